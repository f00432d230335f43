// SPDX-License-Identifier: Apache-2.0
/// @file What the rest of polyglot asks of a model backend, independent of which plugin
/// serves it: embedders (EMBED) and language-model scorers (SCORE). Implemented in
/// src/plugin/ on top of the plugin host; the chosen plugin is decided at run time.
#pragma once

#include <polyglot/core/record.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE

struct backend_options {
    std::string backend = "auto";                      ///< cpu|cuda|metal|auto|PATH to a plugin
    std::vector<std::filesystem::path> plugin_dirs;    ///< --plugin-dir (searched first)
    std::size_t threads = 0;                           ///< 0 = default
    std::size_t max_tokens = 16384;                    ///< SCORE: truncate longer inputs
    std::size_t batch_tokens = 0;                      ///< 0 = backend's choice
    int device = -1;  ///< device index for plugins with several (config "device"); -1 = default
};

/// Sentence embeddings. Not thread-safe: call from one thread; the backend parallelises inside.
class embedder {
public:
    virtual ~embedder() = default;
    [[nodiscard]] virtual std::size_t dim() const = 0;
    /// Identity for report metadata ("fasttext:/path/cc.en.300.bin", "hf:/path/model:mean").
    [[nodiscard]] virtual std::string id() const = 0;
    /// Which plugin serves it ("cpu", "cuda", ...).
    [[nodiscard]] virtual std::string backend() const = 0;
    /// Embeds texts.size() texts into @p out (texts.size() * dim() floats, row-major).
    virtual void embed(std::span<const std::string_view> texts, float* out) = 0;
};

/// Response log-likelihoods given prompts (perplexity). Not thread-safe, as embedder.
class scorer {
public:
    virtual ~scorer() = default;
    [[nodiscard]] virtual std::string id() const = 0;
    [[nodiscard]] virtual std::string backend() const = 0;
    /// Scores prompts[i] → responses[i] into out[i]; all three spans have the same size.
    virtual void score(std::span<const std::string_view> prompts,
                       std::span<const std::string_view> responses, std::span<lm_score> out) = 0;
};

/// The parts of an embedder SPEC (see open_embedder): the model file or directory, the pooling
/// asked for ("" = the model's own) and the identity reports show. Throws argument_error on an
/// empty path.
struct embedder_spec {
    std::string path, pooling, id;
};
embedder_spec parse_embedder_spec(std::string_view spec);

/// Opens an embedder. @p spec: "fasttext:PATH" (a .bin/.ftz model), "DIR", "DIR:mean" or
/// "DIR:last" (a Hugging Face or sentence-transformers directory). Throws plugin_error /
/// io_error / format_error naming the plugin or file.
std::unique_ptr<embedder> open_embedder(std::string_view spec, const backend_options& opts);

/// Opens a scorer for the causal LM in @p model_dir. Throws as open_embedder.
std::unique_ptr<scorer> open_scorer(std::string_view model_dir, const backend_options& opts);

POLYGLOT_END_NAMESPACE
