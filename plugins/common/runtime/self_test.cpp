// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/self_test.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>

#include "common/runtime/reference_device.hpp"
#include "common/runtime/sampler.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime::self_test {

namespace {

// ---- models ---------------------------------------------------------------------------------

constexpr std::int64_t hidden = 64, inter = 128, vocab = 1031;

/// Normal draws from splitmix64 (Box-Muller): the same values on every platform.
class normal_source {
  public:
    explicit normal_source(std::uint64_t seed) : rng_(seed, 0) {}
    double next() {
        const double u1 = (double(rng_.next() >> 11) + 0.5) * 0x1.0p-53;
        const double u2 = double(rng_.next() >> 11) * 0x1.0p-53;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.141592653589793 * u2);
    }

  private:
    splitmix64 rng_;
};

class tensor_builder {
  public:
    tensor_builder(std::uint64_t seed, model::dtype type) : rng_(seed), type_(type) {}
    /// A tensor of N(mean, std²) values stored as the builder's dtype.
    void add(const std::string& name, std::vector<std::int64_t> shape, double std,
             double mean = 0.0) {
        std::int64_t n = 1;
        for (auto d : shape) n *= d;
        model::owned_tensor t;
        t.name = name;
        t.type = type_;
        t.shape = std::move(shape);
        t.bytes.resize(std::size_t(n) * model::dtype_size(type_));
        for (std::int64_t i = 0; i < n; ++i) {
            const float v = float(mean + std * rng_.next());
            char* dst = t.bytes.data() + std::size_t(i) * model::dtype_size(type_);
            if (type_ == model::dtype::f32) {
                std::memcpy(dst, &v, 4);
            } else {
                const std::uint16_t h =
                    type_ == model::dtype::bf16 ? model::float_to_bf16(v) : model::float_to_half(v);
                std::memcpy(dst, &h, 2);
            }
        }
        tensors_.push_back(std::move(t));
    }
    [[nodiscard]] std::string bytes() const { return model::write_safetensors(tensors_); }

  private:
    normal_source rng_;
    model::dtype type_;
    std::vector<model::owned_tensor> tensors_;
};

const char* path_name(arch_path p) {
    switch (p) {
        case arch_path::llama_gqa_bias:
            return "llama-gqa-bias";
        case arch_path::qwen3_qk_norm:
            return "qwen3-qk-norm";
        case arch_path::gemma3_sliding_softcap:
            return "gemma3-sliding-softcap";
        case arch_path::gemma3_bidirectional:
            return "gemma3-bidirectional";
    }
    return "?";
}

std::string config_for(arch_path p, std::int64_t hd) {
    const std::string common =
        "\"hidden_size\": " + std::to_string(hidden) +
        ", \"intermediate_size\": " + std::to_string(inter) +
        ", \"vocab_size\": " + std::to_string(vocab) + ", \"head_dim\": " + std::to_string(hd) +
        ", \"num_attention_heads\": 4, \"max_position_embeddings\": 4096, \"bos_token_id\": 2, "
        "\"eos_token_id\": 1";
    switch (p) {
        case arch_path::llama_gqa_bias:
            // Grouped-query attention (2 query heads per KV head), biases everywhere, Llama 3
            // RoPE scaling, an untied output projection.
            return "{\"model_type\": \"llama\", " + common +
                   ", \"num_key_value_heads\": 2, \"num_hidden_layers\": 2, \"rms_norm_eps\": "
                   "1e-5, \"hidden_act\": \"silu\", \"attention_bias\": true, \"mlp_bias\": true, "
                   "\"tie_word_embeddings\": false, \"rope_parameters\": {\"rope_type\": "
                   "\"llama3\", \"rope_theta\": 500000.0, \"factor\": 8.0, \"low_freq_factor\": "
                   "1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}}";
        case arch_path::qwen3_qk_norm:
            // q/k RMSNorm per head, 4 query heads per KV head, tied embeddings.
            return "{\"model_type\": \"qwen3\", " + common +
                   ", \"num_key_value_heads\": 1, \"num_hidden_layers\": 2, \"rms_norm_eps\": "
                   "1e-6, \"hidden_act\": \"silu\", \"tie_word_embeddings\": true, "
                   "\"rope_theta\": 1000000.0}";
        case arch_path::gemma3_sliding_softcap:
            // Sandwich norms with (1 + w), scaled embeddings, a sliding window that crosses
            // attention tiles, per-layer-type RoPE (linear scaling on full layers), attention
            // and final logit soft-capping that bite, gelu_tanh.
            return "{\"model_type\": \"gemma3_text\", " + common +
                   ", \"num_key_value_heads\": 2, \"num_hidden_layers\": 3, \"rms_norm_eps\": "
                   "1e-6, \"hidden_activation\": \"gelu_pytorch_tanh\", "
                   "\"query_pre_attn_scalar\": " +
                   std::to_string(hd) +
                   ", \"layer_types\": [\"sliding_attention\", \"full_attention\", "
                   "\"sliding_attention\"], \"sliding_window\": 24, \"attn_logit_softcapping\": "
                   "3.0, \"final_logit_softcapping\": 6.0, \"tie_word_embeddings\": true, "
                   "\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"linear\", "
                   "\"factor\": 8.0, \"rope_theta\": 1000000.0}, \"sliding_attention\": "
                   "{\"rope_type\": \"default\", \"rope_theta\": 10000.0}}}";
        case arch_path::gemma3_bidirectional:
            // EmbeddingGemma: bidirectional attention, a bidirectional sliding window.
            return "{\"model_type\": \"gemma3_text\", " + common +
                   ", \"num_key_value_heads\": 2, \"num_hidden_layers\": 2, \"rms_norm_eps\": "
                   "1e-6, \"hidden_activation\": \"gelu_pytorch_tanh\", "
                   "\"query_pre_attn_scalar\": " +
                   std::to_string(hd) +
                   ", \"use_bidirectional_attention\": true, \"layer_types\": "
                   "[\"sliding_attention\", \"full_attention\"], \"sliding_window\": 24, "
                   "\"tie_word_embeddings\": true, \"rope_parameters\": {\"full_attention\": "
                   "{\"rope_type\": \"default\", \"rope_theta\": 1000000.0}, "
                   "\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": "
                   "10000.0}}}";
    }
    return "{}";
}

std::string weights_for(arch_path p, const model::model_config& c, model::dtype type) {
    tensor_builder b(0x5e1f7e57ull + std::uint64_t(p) * 1000003ull + std::uint64_t(c.head_dim),
                     type);
    const std::int64_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const bool gemma = c.arch == model::architecture::gemma3;
    // Norm weights near 1 (Gemma stores w of (1 + w)), projections scaled to keep activations
    // near unit size; q and k a little larger so that attention is peaked (soft-capping and
    // window edges then matter).
    auto norm = [&](const std::string& name, std::int64_t n) {
        b.add(name, {n}, 0.2, gemma ? 0.0 : 1.0);
    };
    auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in, double gain,
                      bool bias) {
        b.add(name + ".weight", {out, in}, gain / std::sqrt(double(in)));
        if (bias) b.add(name + ".bias", {out}, 0.1);
    };
    b.add("model.embed_tokens.weight", {c.vocab_size, d}, 0.25);
    for (std::int64_t l = 0; l < c.num_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        norm(p + "input_layernorm.weight", d);
        norm(p + "post_attention_layernorm.weight", d);
        if (gemma) {
            norm(p + "pre_feedforward_layernorm.weight", d);
            norm(p + "post_feedforward_layernorm.weight", d);
        }
        if (c.qk_norm) {
            norm(p + "self_attn.q_norm.weight", hd);
            norm(p + "self_attn.k_norm.weight", hd);
        }
        linear(p + "self_attn.q_proj", H * hd, d, 1.5, c.qkv_bias);
        linear(p + "self_attn.k_proj", KV * hd, d, 1.5, c.qkv_bias);
        linear(p + "self_attn.v_proj", KV * hd, d, 1.0, c.qkv_bias);
        linear(p + "self_attn.o_proj", d, H * hd, 1.0, c.o_bias);
        linear(p + "mlp.gate_proj", c.intermediate_size, d, 1.0, c.mlp_bias);
        linear(p + "mlp.up_proj", c.intermediate_size, d, 1.0, c.mlp_bias);
        linear(p + "mlp.down_proj", d, c.intermediate_size, 1.0, c.mlp_bias);
    }
    norm("model.norm.weight", d);
    if (!c.tie_word_embeddings) linear("lm_head", c.vocab_size, d, 1.0, false);
    return b.bytes();
}

// ---- comparisons ----------------------------------------------------------------------------

/// Token ids of the test sequences: lengths that leave partial and whole attention tiles,
/// cross the sliding window and the KV blocks.
std::vector<std::vector<token_id>> test_sequences(std::uint64_t seed) {
    static constexpr std::size_t lengths[] = {1, 3, 17, 64, 65, 150};
    splitmix64 rng(seed, 1);
    std::vector<std::vector<token_id>> out;
    for (std::size_t n : lengths) {
        std::vector<token_id> ids(n);
        for (auto& t : ids) t = token_id(rng.next() % std::uint64_t(vocab));
        out.push_back(std::move(ids));
    }
    return out;
}

struct tracker {
    double worst = 0;
    void see(double err) {
        if (std::isnan(err)) err = std::numeric_limits<double>::infinity();
        worst = std::max(worst, err);
    }
};

/// Compares the outputs of one pass (the requests in @p reqs, filled by the device) with the
/// reference outputs @p ref of each sequence; @p base[k] is the position of row 0.
struct pass_outputs {
    struct logprob_out {
        std::size_t seq = 0, pos = 0, target = 0;
        float value = 0;
        std::uint8_t greedy = 2;
    };
    struct logits_out {
        std::size_t seq = 0, pos = 0;
        std::vector<float> values;
    };
    std::vector<logprob_out> logprobs;
    std::vector<logits_out> logits;
};

void compare_outputs(const pass_outputs& got,
                     const std::vector<reference_device::sequence_output>& ref, double lp_limit,
                     tracker& lp, tracker& flags, tracker& full) {
    for (const auto& o : got.logprobs) {
        const auto& r = ref[o.seq];
        lp.see(std::abs(double(o.value) - r.logprob(o.pos, o.target)));
        // Greedy flag: only where the reference's answer is clear by more than the tolerance.
        const std::size_t V = r.logits.size() / r.rows;
        const double* l = r.logits.data() + o.pos * V;
        const double t = l[o.target];
        double best_other = -std::numeric_limits<double>::infinity();
        for (std::size_t v = 0; v < V; ++v)
            if (v != o.target) best_other = std::max(best_other, l[v]);
        if (o.greedy == 2)
            flags.see(1.0);  // never written
        else if (std::abs(t - best_other) > 2 * lp_limit)
            flags.see((o.greedy == 1) != (t > best_other) ? 1.0 : 0.0);
    }
    for (const auto& o : got.logits) {
        const auto& r = ref[o.seq];
        const std::size_t V = o.values.size();
        double mx = -std::numeric_limits<double>::infinity();
        for (float v : o.values) mx = std::max(mx, double(v));
        double s = 0;
        for (float v : o.values) s += std::exp(double(v) - mx);
        const double lse = mx + std::log(s), rl = r.log_sum_exp(o.pos);
        double e = 0;
        for (std::size_t v = 0; v < V; ++v)
            e = std::max(e, std::abs((double(o.values[v]) - lse) - (r.logits[o.pos * V + v] - rl)));
        full.see(e);
    }
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

}  // namespace

// ---- known models ---------------------------------------------------------------------------

known_model make_model(arch_path path, std::int64_t head_dim, model::dtype weights) {
    if (head_dim < 8 || head_dim % 2)
        throw argument_error("self-test: head_dim must be even and at least 8");
    known_model m;
    m.path = path;
    m.name = std::string(path_name(path)) + "/" +
             (weights == model::dtype::bf16  ? "bf16"
              : weights == model::dtype::f16 ? "f16"
                                             : "f32") +
             "/head_dim=" + std::to_string(head_dim);
    m.config_json = config_for(path, head_dim);
    m.config = model::parse_model_config(m.config_json, "self-test model " + m.name);
    m.safetensors = weights_for(path, m.config, weights);
    m.weights = model::weight_set::from_memory(m.safetensors, "self-test model " + m.name);
    return m;
}

arch_path closest_path(const model::model_config& c) {
    if (c.bidirectional) return arch_path::gemma3_bidirectional;
    if (c.arch == model::architecture::gemma3) return arch_path::gemma3_sliding_softcap;
    if (c.qk_norm) return arch_path::qwen3_qk_norm;
    return arch_path::llama_gqa_bias;
}

tolerance tolerance_for(model::dtype compute) {
    // f32 devices: float32 activations and accumulation differ from the double reference by
    // ~1e-5 on these models (the cpu engine: at most 2% of the limits below); the limits leave
    // a wide margin yet are far below what a wrong mask, head mapping, rotation or cache index
    // does (errors of 0.1 to 10).
    // 16-bit devices: every stored activation (norm outputs, q/k/v, attention probabilities
    // and outputs, MLP activations, final hidden states) is rounded to 8 (bf16) or 11 (f16)
    // significant bits. An emulation of exactly that rounding on the reference, over these
    // models at head sizes 64, 128 and 256, stays within 0.058 (bf16) / 0.0096 (f16) in
    // log-probs, 0.083 / 0.013 in full log-softmax rows and 0.021 / 0.0023 in pooled states;
    // the limits are 3-5 times those.
    if (compute == model::dtype::f32 || compute == model::dtype::f64) return {2e-3, 2e-3};
    if (compute == model::dtype::f16) return {0.05, 0.01};
    return {0.25, 0.08};
}

// ---- results --------------------------------------------------------------------------------

bool result::passed() const noexcept {
    if (!failures.empty() || checks.empty()) return false;
    return std::all_of(checks.begin(), checks.end(), [](const check& c) { return c.passed(); });
}

void result::append(const result& o) {
    checks.insert(checks.end(), o.checks.begin(), o.checks.end());
    failures.insert(failures.end(), o.failures.begin(), o.failures.end());
}

std::string result::summary() const {
    if (passed()) {
        double ratio = 0;
        std::vector<std::string> models;
        for (const auto& c : checks) {
            if (c.limit > 0) ratio = std::max(ratio, c.error / c.limit);
            if (std::find(models.begin(), models.end(), c.model) == models.end())
                models.push_back(c.model);
        }
        return "passed: " + std::to_string(models.size()) + " models, " +
               std::to_string(checks.size()) + " checks, largest error " + fmt(100 * ratio) +
               "% of its limit";
    }
    std::string s = "FAILED:";
    const char* sep = " ";
    for (const auto& f : failures) {
        s += sep + f;
        sep = "; ";
    }
    for (const auto& c : checks)
        if (!c.passed()) {
            s += sep + c.model + " " + c.what + ": error " + fmt(c.error) + " > limit " +
                 fmt(c.limit);
            sep = "; ";
        }
    if (checks.empty() && failures.empty()) s += " nothing was checked";
    return s;
}

std::string result::json() const {
    io::json_writer w;
    w.begin_object();
    w.kv("status", passed() ? "passed" : "failed");
    w.kv("summary", summary());
    w.key("checks").begin_array();
    for (const auto& c : checks) {
        w.begin_object();
        w.kv("model", c.model).kv("what", c.what);
        w.kv("error", std::isfinite(c.error) ? c.error : 1e300).kv("limit", c.limit);
        w.kv("passed", c.passed());
        w.end_object();
    }
    w.end_array();
    w.key("failures").begin_array();
    for (const auto& f : failures) w.value(f);
    w.end_array();
    w.end_object();
    return w.take();
}

// ---- the test -------------------------------------------------------------------------------

namespace {

/// The device's outputs of @p seqs against the reference's @p ref, in one packed pass and
/// (devices with a KV cache) in cached passes; the checks go to @p res.
struct model_check {
    const known_model& m;
    device_model& dev;
    const std::vector<std::vector<token_id>>& seqs;
    const std::vector<reference_device::sequence_output>& ref;
    const tolerance& tol;
    result& res;

    /// Check @p what: the worst error @p t saw against @p limit.
    void add(const std::string& what, const tracker& t, double limit) const {
        res.checks.push_back({m.name, what, t.worst, limit});
    }
    void packed_pass() const;
    void cached_passes() const;
};

void model_check::packed_pass() const {
    const auto& c = m.config;
    const bool causal = !c.bidirectional;
    const std::size_t d = std::size_t(c.hidden_size), V = std::size_t(c.vocab_size);
    const std::size_t n = seqs.size();
    // 1. Every sequence in one packed pass: log-prob and greedy flag of the next token at
    //    every row, full logits at each sequence's last row, pooled states.
    for (auto pooling : {model::pooling_mode::mean, model::pooling_mode::last}) {
        std::vector<std::vector<output_request>> reqs(n);
        pass_outputs got;
        std::vector<float> pooled(n * d, std::nanf(""));
        const bool with_lm = causal && pooling == model::pooling_mode::mean;
        if (with_lm) {
            for (std::size_t k = 0; k < n; ++k) {
                for (std::size_t r = 0; r + 1 < seqs[k].size(); ++r)
                    got.logprobs.push_back({k, r, seqs[k][r + 1], std::nanf(""), 2});
                got.logits.push_back({k, seqs[k].size() - 1, std::vector<float>(V)});
            }
            std::size_t a = 0;
            for (std::size_t k = 0; k < n; ++k) {
                for (std::size_t r = 0; r + 1 < seqs[k].size(); ++r, ++a) {
                    auto& o = got.logprobs[a];
                    reqs[k].push_back(
                        {std::uint32_t(r), std::int32_t(o.target), &o.value, &o.greedy, nullptr});
                }
                reqs[k].push_back({std::uint32_t(seqs[k].size() - 1), -1, nullptr, nullptr,
                                   got.logits[k].values.data()});
            }
        }
        std::vector<forward_seq> pass(n);
        for (std::size_t k = 0; k < n; ++k) {
            pass[k].ids = seqs[k];
            pass[k].outputs = reqs[k];
            pass[k].pooling = pooling;
            pass[k].pooled = pooled.data() + k * d;
        }
        dev.forward(pass);
        tracker lp, flags, full, pool;
        if (with_lm) {
            compare_outputs(got, ref, tol.logprob, lp, flags, full);
            add("log-probs (packed pass)", lp, tol.logprob);
            add("greedy flags (packed pass)", flags, 0);
            add("full logits (packed pass)", full, tol.logprob);
        }
        for (std::size_t k = 0; k < n; ++k) {
            const auto& r = ref[k];
            double scale = 1;
            std::vector<double> want(d, 0.0);
            for (std::size_t i = 0; i < d; ++i) {
                if (pooling == model::pooling_mode::mean) {
                    for (std::size_t row = 0; row < r.rows; ++row) want[i] += r.hidden[row * d + i];
                    want[i] /= double(r.rows);
                } else {
                    want[i] = r.hidden[(r.rows - 1) * d + i];
                }
                scale = std::max(scale, std::abs(want[i]));
            }
            for (std::size_t i = 0; i < d; ++i)
                pool.see(std::abs(double(pooled[k * d + i]) - want[i]) / scale);
        }
        add(pooling == model::pooling_mode::mean ? "mean pooling" : "last-token pooling", pool,
            tol.hidden);
    }
}

void model_check::cached_passes() const {
    const auto& c = m.config;
    const bool causal = !c.bidirectional;
    const std::size_t V = std::size_t(c.vocab_size);
    const std::size_t n = seqs.size();
    // 2. Cached passes: the two longest sequences in chunks (prefill pieces, then single
    //    tokens, then the rest), both in every pass at different positions, their KV blocks
    //    scattered over the pool.
    const std::size_t B = dev.kv_block_tokens();
    if (causal && B > 0) {
        const std::size_t a = n - 1, b = n - 2;  // lengths 150 and 65
        const std::vector<std::vector<std::size_t>> cuts = {
            {0, 37, 64, 65, 100, 101, 102, 103, 104, 105, 110, 150}, {0, 1, 30, 31, 32, 65}};
        const std::size_t blocks_a = (seqs[a].size() + B - 1) / B;
        const std::size_t blocks_b = (seqs[b].size() + B - 1) / B;
        const std::size_t total = blocks_a + blocks_b + 3;
        dev.kv_reserve(total);
        std::vector<std::uint32_t> perm(total);
        std::iota(perm.begin(), perm.end(), 0u);
        splitmix64 rng(0xb10c5ull, 0);
        for (std::size_t i = total; i > 1; --i)
            std::swap(perm[i - 1], perm[std::size_t(rng.next() % i)]);
        const std::vector<std::uint32_t> table_a(perm.begin(),
                                                 perm.begin() + std::ptrdiff_t(blocks_a));
        const std::vector<std::uint32_t> table_b(
            perm.begin() + std::ptrdiff_t(blocks_a),
            perm.begin() + std::ptrdiff_t(blocks_a + blocks_b));
        tracker lp, flags, full;
        const std::size_t steps = std::max(cuts[0].size(), cuts[1].size()) - 1;
        for (std::size_t step = 0; step < steps; ++step) {
            pass_outputs got;
            std::vector<std::vector<output_request>> reqs;
            std::vector<forward_seq> pass;
            struct chunk {
                std::size_t seq, lo, hi;
                const std::vector<std::uint32_t>* table;
            };
            std::vector<chunk> chunks;
            for (std::size_t which = 0; which < 2; ++which) {
                const auto& cut = cuts[which];
                if (step + 1 >= cut.size()) continue;
                chunks.push_back({which == 0 ? a : b, cut[step], cut[step + 1],
                                  which == 0 ? &table_a : &table_b});
            }
            for (const auto& ch : chunks) {
                for (std::size_t p = ch.lo; p + 1 < ch.hi; ++p)
                    got.logprobs.push_back({ch.seq, p, seqs[ch.seq][p + 1], std::nanf(""), 2});
                got.logits.push_back({ch.seq, ch.hi - 1, std::vector<float>(V)});
            }
            std::size_t at = 0;
            reqs.resize(chunks.size());
            for (std::size_t k = 0; k < chunks.size(); ++k) {
                const auto& ch = chunks[k];
                for (std::size_t p = ch.lo; p + 1 < ch.hi; ++p, ++at) {
                    auto& o = got.logprobs[at];
                    reqs[k].push_back({std::uint32_t(p - ch.lo), std::int32_t(o.target), &o.value,
                                       &o.greedy, nullptr});
                }
                reqs[k].push_back({std::uint32_t(ch.hi - 1 - ch.lo), -1, nullptr, nullptr,
                                   got.logits[k].values.data()});
                forward_seq f;
                f.ids = std::span<const token_id>(seqs[ch.seq]).subspan(ch.lo, ch.hi - ch.lo);
                f.pos0 = ch.lo;
                f.blocks = std::span<const std::uint32_t>(*ch.table).first((ch.hi + B - 1) / B);
                f.outputs = reqs[k];
                pass.push_back(f);
            }
            dev.forward(pass);
            compare_outputs(got, ref, tol.logprob, lp, flags, full);
        }
        add("log-probs (cached passes)", lp, tol.logprob);
        add("greedy flags (cached passes)", flags, 0);
        add("full logits (cached passes)", full, tol.logprob);
    }
}

}  // namespace

result run(const known_model& m, const device_factory& make, const tolerance& tol) {
    result res;
    const auto& c = m.config;
    std::unique_ptr<device_model> dev;
    try {
        dev = make(m);
    } catch (const std::exception& e) {
        res.failures.push_back(m.name + ": the device could not load the model: " + e.what());
        return res;
    }
    const auto ref_dev = reference_device::create(c, m.weights);
    const auto seqs = test_sequences(0x7e57ull + std::uint64_t(m.path));
    std::vector<reference_device::sequence_output> ref;
    for (const auto& s : seqs) ref.push_back(ref_dev->run(s));
    const model_check check{m, *dev, seqs, ref, tol, res};
    try {
        check.packed_pass();
        check.cached_passes();
    } catch (const std::exception& e) {
        res.failures.push_back(m.name + ": the device failed: " + e.what());
    }
    return res;
}

result run_for(const model::model_config& c, model::dtype weights, const device_factory& make,
               const tolerance& tol) {
    const std::int64_t hd = std::max<std::int64_t>(8, c.head_dim + c.head_dim % 2);
    return run(make_model(closest_path(c), hd, weights), make, tol);
}

result run_all(std::int64_t head_dim, model::dtype weights, const device_factory& make,
               const tolerance& tol) {
    result all;
    for (auto p : all_paths) all.append(run(make_model(p, head_dim, weights), make, tol));
    return all;
}

// ---- a plugin's verdict ---------------------------------------------------------------------

void plugin_verdict::compute() const {
    std::call_once(once_, [this] {
        try {
            result_ = run_();
        } catch (const std::exception& e) {
            result_.failures.push_back(std::string("the self-test could not run: ") + e.what());
        }
        if (!result_.passed()) reason_ = "self-test " + result_.summary();
        json_ = result_.json();
    });
}

const result& plugin_verdict::get() const {
    compute();
    return result_;
}

const std::string& plugin_verdict::reason() const {
    compute();
    return reason_;
}

const char* plugin_verdict::json() const {
    compute();
    return json_.c_str();
}

}  // namespace runtime::self_test
POLYGLOT_END_NAMESPACE
