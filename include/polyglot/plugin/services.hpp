// SPDX-License-Identifier: Apache-2.0
/// @file What the rest of polyglot asks of a model backend, independent of which plugin
/// serves it: embedders (EMBED), language-model scorers (SCORE) and generators (GENERATE).
/// Implemented in src/plugin/ on top of the plugin host; the chosen plugin is decided at run
/// time. A model is named by a spec: a local path (a model directory, "fasttext:FILE"), or a
/// URL with the model after '#' (`http://host:8000/v1#google/gemma-3-4b-pt`), which selects
/// the remote backend under --backend auto.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <polyglot/core/record.hpp>
#include <polyglot/plugin/requests.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE

struct backend_options {
    std::string backend = "auto";                    ///< cpu|cuda|metal|remote|auto|PATH
    std::vector<std::filesystem::path> plugin_dirs;  ///< --plugin-dir (searched first)
    std::size_t threads = 0;                         ///< 0 = default
    std::size_t max_tokens = 16384;                  ///< SCORE: truncate longer inputs
    std::size_t batch_tokens = 0;                    ///< 0 = backend's choice
    std::string dtype;                               ///< "" = as stored | f32 | f16 | bf16
    bool parse_special = false;  ///< recognise special tokens written in SFT text
    std::string chat_template;   ///< --chat-template FILE: overrides the model's template
    // Remote backend (plugins/remote; ignored by the others).
    std::string server_kind = "auto";            ///< vllm|sglang|tgi|llamacpp|openai|auto
    std::string api_key_env = "OPENAI_API_KEY";  ///< the environment variable holding the key
    std::size_t concurrency = 32;                ///< requests in flight
    std::size_t max_retries = 5;                 ///< per request, then a counted failure
    double request_timeout = 600;                ///< seconds per request
    bool no_cache = false;                       ///< do not read or write the request journal
    std::string tokenizer;                       ///< a local tokenizer directory for a remote model
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
    /// The model's JSON self-description (plugin, device, dtype, ...).
    [[nodiscard]] virtual std::string info_json() const { return "{}"; }
    /// Embeds texts.size() texts into @p out (texts.size() * dim() floats, row-major). Rows of
    /// items whose model/server call failed are NaN when @p hooks takes per-item failures;
    /// otherwise the call throws.
    virtual void embed(std::span<const std::string_view> texts, float* out,
                       const call_hooks* hooks = nullptr) = 0;
};

/// Response log-likelihoods given prompts (perplexity), and log-likelihoods of token ids
/// (student evaluation). Not thread-safe, as embedder.
class scorer {
  public:
    virtual ~scorer() = default;
    [[nodiscard]] virtual std::string id() const = 0;
    [[nodiscard]] virtual std::string backend() const = 0;
    /// The model's JSON self-description (plugin, device, dtype, context, ...).
    [[nodiscard]] virtual std::string info_json() const { return "{}"; }
    /// Scores prompts[i] → responses[i] into out[i]; all three spans have the same size. A
    /// record whose model/server call failed is marked out[i].failed (with its reason) when
    /// @p hooks takes per-item failures; otherwise the call throws.
    virtual void score(std::span<const std::string_view> prompts,
                       std::span<const std::string_view> responses, std::span<lm_score> out,
                       const call_hooks* hooks = nullptr) = 0;
    /// Token ids as the model tokenizes @p texts (add_special: the model's BOS etc.). Default:
    /// throws unsupported_error.
    [[nodiscard]] virtual std::vector<std::vector<std::int32_t>> tokenize(
        std::span<const std::string_view> texts, bool add_special);
    /// Log-probs of caller-given token sequences (see plugin::model::score_ids): for sequence i
    /// and p >= max(score_from[i], 1), logprobs[i][p]; NaN elsewhere and for failed items.
    /// @p greedy (optional): 1 where ids[p] is the model's argmax. Default: throws
    /// unsupported_error.
    virtual void score_ids(std::span<const std::vector<std::int32_t>> seqs,
                           std::span<const std::size_t> score_from,
                           std::vector<std::vector<float>>& logprobs,
                           std::vector<std::vector<std::uint8_t>>* greedy,
                           const call_hooks* hooks = nullptr);
};

/// Text generation (GENERATE). Not thread-safe, as embedder: the backend batches inside.
class generator {
  public:
    virtual ~generator() = default;
    [[nodiscard]] virtual std::string id() const = 0;
    [[nodiscard]] virtual std::string backend() const = 0;
    [[nodiscard]] virtual std::string info_json() const { return "{}"; }
    /// One continuation per prompt into out[i]. Text prompts (kind text) or chat messages
    /// (kind messages: a JSON array per prompt — rendered here with the model's chat template
    /// for native backends, sent as messages to chat-capable servers) in @p prompts, or token
    /// ids (kind ids) in @p prompt_ids. @p first_index: the job-wide index of prompt 0, which
    /// seeds each sequence's sampling, so results never depend on how a job is split into
    /// calls. Per-item failures land in out[i].status / error.
    virtual void generate(prompt_kind kind, std::span<const std::string_view> prompts,
                          std::span<const std::vector<std::int32_t>> prompt_ids,
                          std::uint64_t first_index, const generate_params& params,
                          std::span<generation> out, const call_hooks* hooks = nullptr) = 0;
    /// Token ids as the model tokenizes @p texts.
    [[nodiscard]] virtual std::vector<std::vector<std::int32_t>> tokenize(
        std::span<const std::string_view> texts, bool add_special) = 0;
};

namespace plugin {
class model;
}

/// One loaded model with every operation it has, for `polyglot serve`: the plugin model itself
/// (tokenize with flags, detokenize, score_ids, embed; see plugin/host.hpp) and, when it can
/// generate, the generator service over the same model (which renders chat messages for
/// backends that do not). Not thread-safe: one caller at a time.
struct model_services {
    std::shared_ptr<plugin::model> model;
    std::unique_ptr<generator> gen;  ///< null when the model cannot generate
    std::string id;                  ///< "hf:DIR", "remote:URL#MODEL"
};
/// Opens @p spec (a model directory or URL#MODEL) once for every operation.
model_services open_model_services(std::string_view spec, const backend_options& opts);

/// The parts of an embedder SPEC (see open_embedder): the model file or directory, the pooling
/// asked for ("" = the model's own) and the identity reports show. Throws argument_error on an
/// empty path.
struct embedder_spec {
    std::string path, pooling, id;
};
embedder_spec parse_embedder_spec(std::string_view spec);

/// Opens an embedder. @p spec: "fasttext:PATH" (a .bin/.ftz model), "DIR", "DIR:mean" or
/// "DIR:last" (a Hugging Face or sentence-transformers directory), or URL#MODEL. Throws
/// plugin_error / io_error / format_error naming the plugin or file.
std::unique_ptr<embedder> open_embedder(std::string_view spec, const backend_options& opts);

/// Opens a scorer for the causal LM @p spec (a model directory or URL#MODEL). Throws as
/// open_embedder.
std::unique_ptr<scorer> open_scorer(std::string_view spec, const backend_options& opts);

/// Opens a generator for the causal LM @p spec (a model directory or URL#MODEL). Throws as
/// open_embedder.
std::unique_ptr<generator> open_generator(std::string_view spec, const backend_options& opts);

POLYGLOT_END_NAMESPACE
