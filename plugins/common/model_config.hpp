// SPDX-License-Identifier: Apache-2.0
/// @file config.json of a Hugging Face causal LM / text encoder, normalised into one struct for
/// every supported architecture (Llama, Qwen2, Qwen3, Gemma 3 text, incl. Gemma 3 multimodal
/// configs' `text_config`), with the defaults transformers' config classes use for absent keys.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

enum class architecture { llama, qwen2, qwen3, gemma3 };
enum class activation { silu, gelu_tanh, gelu_erf };
enum class attention_kind { full, sliding };

/// RoPE parameters for one kind of layer (transformers' rope_parameters / rope_scaling).
struct rope_params {
    std::string type = "default";  ///< default | linear | llama3
    double theta = 10000.0;
    double factor = 1.0;                    ///< linear and llama3
    double low_freq_factor = 1.0;           ///< llama3
    double high_freq_factor = 4.0;          ///< llama3
    double original_max_position = 8192.0;  ///< llama3: original_max_position_embeddings
};

struct model_config {
    std::filesystem::path file;  ///< the config.json it came from
    std::string model_type;      ///< "llama", "qwen2", "qwen3", "gemma3_text"
    architecture arch = architecture::llama;
    std::int64_t hidden_size = 0;
    std::int64_t intermediate_size = 0;
    std::int64_t num_layers = 0;
    std::int64_t num_heads = 0;
    std::int64_t num_kv_heads = 0;
    std::int64_t head_dim = 0;
    std::int64_t vocab_size = 0;
    std::int64_t max_position_embeddings = 0;
    double rms_norm_eps = 1e-6;
    activation act = activation::silu;
    bool tie_word_embeddings = false;
    bool bidirectional = false;  ///< use_bidirectional_attention (EmbeddingGemma-style)
    bool qkv_bias = false;       ///< q/k/v projections have a bias
    bool o_bias = false;         ///< o projection has a bias
    bool mlp_bias = false;
    bool qk_norm = false;           ///< Qwen3 / Gemma 3 per-head RMSNorm of q and k
    bool sandwich_norms = false;    ///< Gemma 3: post-attention and pre/post-feedforward norms
    bool norm_plus_one = false;     ///< Gemma: RMSNorm scales by (1 + w)
    bool scale_embeddings = false;  ///< Gemma: embeddings × sqrt(hidden_size) (as float32)
    double attn_scale = 0;          ///< softmax scaling of q·k
    std::optional<double> attn_logit_softcap;
    std::optional<double> final_logit_softcap;
    std::int64_t sliding_window = 0;          ///< 0 = none
    std::vector<attention_kind> layer_types;  ///< one per layer
    rope_params rope_full, rope_sliding;      ///< per layer kind
    std::optional<std::int64_t> bos_token_id, eos_token_id;
    bool multimodal_wrapper = false;  ///< came from a Gemma3ForConditionalGeneration config

    [[nodiscard]] const rope_params& rope_for(std::int64_t layer) const {
        return layer_types[static_cast<std::size_t>(layer)] == attention_kind::sliding
                   ? rope_sliding
                   : rope_full;
    }
};

/// Reads @p path (a model directory or its config.json). Throws io_error / format_error /
/// unsupported_error (unknown model_type, unsupported RoPE type or activation) naming the file.
model_config load_model_config(const std::filesystem::path& path);
/// The same from config.json text held in memory; @p origin names it in errors.
model_config parse_model_config(std::string_view json, const std::filesystem::path& origin);
class json_document;
/// The same from a parsed document.
model_config parse_model_config(const json_document& doc);

}  // namespace model
POLYGLOT_END_NAMESPACE
