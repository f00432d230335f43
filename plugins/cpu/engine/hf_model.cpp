// SPDX-License-Identifier: Apache-2.0
// polyglot::cpu::make_hf_model: the cpu plugin's Hugging Face models — the shared runtime
// (plugins/common/runtime) over the cpu engine's device part (transformer.hpp).
#include "hf_model.hpp"

#include <simdjson.h>

#include <memory>
#include <polyglot/core/error.hpp>
#include <string>

#include "common/plugin_config.hpp"
#include "common/runtime/lm_runtime.hpp"
#include "engine/transformer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {

std::unique_ptr<model> make_hf_model(const model_request& r) {
    if (!r.dtype.empty() && r.dtype != "f32")
        throw unsupported_error("model '" + r.path.string() + "': dtype '" + r.dtype +
                                "': the cpu engine computes in f32 only");
    simdjson::dom::parser parser;
    simdjson::dom::object obj = ::polyglot::model::parse_config(parser, r.config_json);
    runtime::options o;
    o.pooling = r.pooling;
    o.max_tokens = r.max_tokens;
    o.pass_tokens = r.batch_tokens;
    o.kv_tokens = ::polyglot::model::config_size(obj, "kv_tokens", 0);
    o.max_batch = ::polyglot::model::config_size(obj, "max_batch", 0);
    o.parse_special = ::polyglot::model::config_bool(obj, "parse_special", false);
    engine::transformer::options eo;
    eo.threads = r.threads;
    eo.pass_tokens = r.batch_tokens;
    auto rt = runtime::lm_runtime::open(r.path, o, [&](const std::filesystem::path& dir) {
        return engine::transformer::load(dir, eo);
    });
    return runtime::make_plugin_model(std::move(rt));
}

}  // namespace cpu
POLYGLOT_END_NAMESPACE
