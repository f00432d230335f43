// SPDX-License-Identifier: Apache-2.0
/// @file The forward-pass setup every device backend shares: which tensors a decoder-only text
/// model (Llama, Qwen2, Qwen3, Gemma 3 text, EmbeddingGemma) has, under which names and shapes,
/// how projections are stacked into one GEMM, which norms are Gemma's (1 + w), where the output
/// projection comes from, and the RoPE inverse frequencies. A backend walks this description
/// and converts / uploads each tensor in its own format; it never spells a tensor name itself.
#pragma once

#include <cstdint>
#include <optional>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "common/model_config.hpp"
#include "common/safetensors.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

/// An RMSNorm weight vector.
struct norm_tensor {
    std::string name;       ///< full tensor name
    std::int64_t size = 0;  ///< elements
    bool plus_one = false;  ///< Gemma: the norm scales by (1 + w); norm_weights() applies it
};

/// Projections stacked row-wise into one [sum(outs), in] matrix (q/k/v, gate/up, ...).
struct linear_tensors {
    std::vector<std::string>
        names;  ///< base names ("...q_proj"); tensors are NAME.weight / NAME.bias
    std::vector<std::int64_t> outs;  ///< rows of each
    std::int64_t in = 0;
    bool bias = false;
    [[nodiscard]] std::int64_t out() const noexcept {
        std::int64_t s = 0;
        for (auto o : outs) s += o;
        return s;
    }
};

struct layer_tensors {
    norm_tensor in_norm;
    std::optional<norm_tensor> post_attn_norm;  ///< Gemma 3 sandwich norms
    norm_tensor pre_ff_norm;                    ///< post_attention_layernorm outside Gemma 3
    std::optional<norm_tensor> post_ff_norm;
    std::optional<norm_tensor> q_norm, k_norm;  ///< Qwen3 / Gemma 3 per-head norms
    linear_tensors qkv, o, gate_up, down;
};

struct text_model_tensors {
    std::string
        prefix;         ///< where the text model lives ("model.", "", "model.language_model.", ...)
    std::string embed;  ///< [vocab, hidden]
    norm_tensor final_norm;
    std::vector<layer_tensors> layers;
    std::optional<linear_tensors> lm_head;  ///< an untied output projection
    bool has_head = false;                  ///< lm_head, or tied to the embeddings
};

/// Describes the tensors of the model in @p ws for @p cfg. Throws format_error naming the file
/// when there is no text model under a known prefix, or (@p need_lm_head) no output projection.
text_model_tensors text_model_layout(const model_config& cfg, const weight_set& ws,
                                     bool need_lm_head);

/// One backend layer from @p spec: @p norm turns each (optional) norm tensor and @p linear each
/// stacked projection into the backend's own types, the same fields for every backend.
template <class Layer, class Norm, class Linear>
Layer make_layer(const layer_tensors& spec, Norm&& norm, Linear&& linear) {
    Layer L;
    L.in_norm = norm(spec.in_norm);
    L.post_attn_norm = norm(spec.post_attn_norm);
    L.pre_ff_norm = norm(spec.pre_ff_norm);
    L.post_ff_norm = norm(spec.post_ff_norm);
    L.q_norm = norm(spec.q_norm);
    L.k_norm = norm(spec.k_norm);
    L.qkv = linear(spec.qkv);
    L.o = linear(spec.o);
    L.gate_up = linear(spec.gate_up);
    L.down = linear(spec.down);
    return L;
}

/// The norm's weights as float, (1 + w) already applied for Gemma norms.
std::vector<float> norm_weights(const weight_set& ws, const norm_tensor& n);

/// RoPE inverse frequencies as transformers computes them (f32): default, linear and llama3.
std::vector<float> rope_inv_freq(const rope_params& rp, std::int64_t head_dim);

/// cos / sin of position @p pos for @p inv_freq (half = inv_freq.size() values each), rounded
/// as transformers does in f32 (the angle in f32, its cosine in double).
void rope_cos_sin(const std::vector<float>& inv_freq, std::int64_t pos, float* cos_out,
                  float* sin_out);

}  // namespace model
POLYGLOT_END_NAMESPACE
