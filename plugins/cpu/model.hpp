// SPDX-License-Identifier: Apache-2.0
/// @file
/// The cpu plugin's internal model interface and the request every model factory receives.
///
/// CONTRACT between the cpu plugin (plugins/cpu/plugin.cpp) and the model engines behind it:
///
///  - `create(config_json)` of the cpu plugin parses the config (simdjson) into a
///    `model_request` and dispatches on the model path:
///      * a regular file ending in `.bin` / `.ftz` (or starting with fastText's magic) →
///        the fastText model (plugins/cpu/fasttext_model.{hpp,cpp}): EMBED + TOKENIZE;
///      * a directory (a Hugging Face model as users download it) →
///        `polyglot::cpu::make_hf_model(request)` declared in plugins/cpu/hf_model.hpp: the
///        shared model runtime (plugins/common/runtime/lm_runtime.hpp: every ABI 1.1 language
///        model operation, GENERATE included) over the cpu engine's device part.
///        plugins/cpu/hf_model_stub.cpp implements it with an "unsupported" error; the native
///        transformer engine replaces the stub: when plugins/cpu/engine/CMakeLists.txt exists,
///        plugins/cpu/CMakeLists.txt include()s it (paths relative to ${CMAKE_CURRENT_LIST_DIR};
///        it must append its sources to the CMake
///        variable POLYGLOT_CPU_ENGINE_SOURCES and its private libraries to
///        POLYGLOT_CPU_ENGINE_LIBS) and leaves the stub out.
///  - A model is `polyglot::cpu::model` = `plugin_sdk::model` (include/polyglot/plugin/plugin.hpp):
///      bool supports(polyglot_op) const;             which of EMBED / TOKENIZE / SCORE it does
///      std::string info_json() const;               JSON object for report metadata, e.g.
///                                                   {"id": "hf:/m:mean", "dim": 768, ...}
///      std::uint32_t dim() const;                    EMBED dimension
///      void embed(const text_batch_view&, float* out) const;   n * dim floats, row-major;
///                                                   may be called from several threads at once
///      void tokenize(std::string_view, std::uint32_t flags, std::vector<std::int32_t>&) const;
///                                                   appends ids; POLYGLOT_TOKENIZE_ADD_SPECIAL
///      void score(const text_batch_view& prompts, const text_batch_view& responses,
///                 polyglot_score_result* out);      one result per pair (see abi.h / product.md
///                                                   §3 perplexity); called from one thread
///    Unimplemented operations throw (the default implementations report UNSUPPORTED).
///  - Errors: throw polyglot::io_error / format_error / argument_error / unsupported_error (or
///    plugin_sdk::status_error) with the file name; the generated ABI glue turns them into a
///    status + last_error. Never abort, exit or print.
///  - Parallelism: models may use TBB inside (the cpu plugin links TBB::tbb); the host's
///    --threads cap (tbb::global_control) applies because TBB is one shared runtime per
///    process. `request.threads` (0 = default) is the cap the user asked for.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <polyglot/plugin/plugin.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {

using plugin_sdk::text_batch_view;

/// The interface every cpu-plugin model implements (see the contract above).
using model = plugin_sdk::model;

/// What `create(config_json)` asked for, parsed once by the plugin.
struct model_request {
    std::filesystem::path path;      ///< "model": a fastText file or a model directory
    std::string pooling;             ///< "pooling": "mean" | "last" | "" (model default)
    std::size_t threads = 0;         ///< "threads": 0 = default
    std::size_t max_tokens = 16384;  ///< "max_tokens": SCORE truncation limit
    std::size_t batch_tokens = 0;    ///< "batch_tokens": 0 = model's choice
    std::string dtype;               ///< "dtype": "" (as stored) | "f32" | "f16" | "bf16"
    std::string config_json;         ///< the full config, for engine-specific keys
};

}  // namespace cpu
POLYGLOT_END_NAMESPACE
