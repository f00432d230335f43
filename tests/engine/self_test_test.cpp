// SPDX-License-Identifier: Apache-2.0
// The backends' known-answer self-test (plugins/common/runtime/self_test.hpp) on the CPU:
//  - the known-answer models are the same bytes on every build and have the features they are
//    meant to test (grouped-query attention, q/k norms, sliding windows, soft-capping,
//    bidirectional attention);
//  - an independent correct device, the cpu engine (float32, paged KV cache), passes
//    every check of every architecture path, packed and cached, with f32 and bf16 weights, at
//    the head sizes of real models — so the stated tolerances do not reject a correct backend;
//  - devices with realistic defects fail, and the result names the check and its numbers: a
//    log-prob offset, a KV cache that ignores the block table, a sliding window off by one, a
//    wrong query-to-KV-head mapping, a missing output (never written).
#define BOOST_TEST_MODULE engine_self_test
#include "common/runtime/self_test.hpp"

#include <cmath>

#include "common/runtime/reference_device.hpp"
#include "engine/transformer.hpp"
#include "fixtures.hpp"

namespace rt = polyglot::runtime;
namespace st = polyglot::runtime::self_test;
using polyglot::model::dtype;

namespace {

/// The cpu engine over the known model's in-memory weights, as the cpu plugin builds it for
/// its self-test (plugins/cpu/engine/hf_model.cpp).
std::unique_ptr<rt::device_model> cpu_engine(const st::known_model& m) {
    return polyglot::engine::transformer::create(m.config, m.weights,
                                                 {.need_lm_head = false, .threads = 2});
}

/// A device that forwards to another and then spoils something.
class spoiled final : public rt::device_model {
  public:
    using hook = std::function<void(std::span<const rt::forward_seq>, rt::device_model&)>;
    spoiled(std::unique_ptr<rt::device_model> inner, hook h)
        : inner_(std::move(inner)), hook_(std::move(h)) {}
    const polyglot::model::model_config& config() const noexcept override {
        return inner_->config();
    }
    bool has_lm_head() const noexcept override { return inner_->has_lm_head(); }
    std::string describe_json() const override { return inner_->describe_json(); }
    std::size_t pass_tokens() const noexcept override { return inner_->pass_tokens(); }
    std::size_t kv_block_tokens() const noexcept override { return inner_->kv_block_tokens(); }
    std::size_t kv_bytes_per_token() const noexcept override {
        return inner_->kv_bytes_per_token();
    }
    void kv_reserve(std::size_t blocks) override { inner_->kv_reserve(blocks); }
    void forward(std::span<const rt::forward_seq> batch) override { hook_(batch, *inner_); }

  private:
    std::unique_ptr<rt::device_model> inner_;
    hook hook_;
};

bool has_check(const st::result& r, const std::string& what_part, bool passed) {
    for (const auto& c : r.checks)
        if (c.what.find(what_part) != std::string::npos && c.passed() == passed) return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(known_models_are_fixed_and_have_their_features) {
    for (auto p : st::all_paths) {
        const auto a = st::make_model(p, 64, dtype::bf16), b = st::make_model(p, 64, dtype::bf16);
        BOOST_TEST(a.safetensors == b.safetensors);
        BOOST_TEST(a.config_json == b.config_json);
        BOOST_TEST((a.weights.main_dtype() == dtype::bf16));
        BOOST_TEST(a.config.head_dim == 64);
        BOOST_TEST((st::closest_path(a.config) == p));
    }
    const auto llama = st::make_model(st::arch_path::llama_gqa_bias, 32, dtype::f32).config;
    BOOST_TEST(llama.num_heads / llama.num_kv_heads == 2);
    BOOST_TEST((llama.qkv_bias && llama.o_bias && llama.mlp_bias && !llama.tie_word_embeddings));
    BOOST_TEST(llama.rope_full.type == "llama3");
    const auto qwen = st::make_model(st::arch_path::qwen3_qk_norm, 32, dtype::f32).config;
    BOOST_TEST((qwen.qk_norm && qwen.num_kv_heads == 1 && qwen.tie_word_embeddings));
    const auto gemma = st::make_model(st::arch_path::gemma3_sliding_softcap, 32, dtype::f32).config;
    BOOST_TEST((gemma.sandwich_norms && gemma.norm_plus_one && gemma.scale_embeddings));
    BOOST_TEST(gemma.sliding_window == 24);
    BOOST_TEST((gemma.attn_logit_softcap.has_value() && gemma.final_logit_softcap.has_value()));
    BOOST_TEST(gemma.rope_full.type == "linear");
    const auto enc = st::make_model(st::arch_path::gemma3_bidirectional, 32, dtype::f32).config;
    BOOST_TEST(enc.bidirectional);
    BOOST_TEST(enc.sliding_window == 13);  // transformers' bidirectional half-width 24 / 2 + 1
    // Another head size or dtype gives other bytes (the seed covers both).
    BOOST_TEST(st::make_model(st::arch_path::llama_gqa_bias, 64, dtype::f32).safetensors !=
               st::make_model(st::arch_path::llama_gqa_bias, 64, dtype::bf16).safetensors);
}

BOOST_AUTO_TEST_CASE(the_cpu_engine_passes_every_path) {
    // f32 weights at the tolerances of f32 devices; bf16 weights too (the cpu engine widens
    // them, so it must still meet the f32 limits), at head sizes of real models.
    for (auto [hd, w] :
         {std::pair{16, dtype::f32}, std::pair{64, dtype::bf16}, std::pair{256, dtype::f32}}) {
        const auto r = st::run_all(hd, w, cpu_engine, st::tolerance_for(dtype::f32));
        BOOST_TEST_MESSAGE("head_dim " << hd << ": " << r.summary());
        BOOST_TEST(r.passed(), r.summary());
        // Every path contributed packed and cached checks (the cpu engine has a KV cache).
        BOOST_TEST(r.checks.size() == 3u * (3 + 2 + 3) + 2u);
        BOOST_TEST(has_check(r, "cached passes", true));
        BOOST_TEST(r.json().find("\"status\":\"passed\"") != std::string::npos, r.json());
    }
}

BOOST_AUTO_TEST_CASE(the_check_at_load_uses_the_closest_model_at_the_models_head_size) {
    // What the cpu and cuda plugins run when they load a model: the known model of the
    // model's architecture path, with its head size (made even) and its weight dtype.
    auto cfg = st::make_model(st::arch_path::gemma3_sliding_softcap, 32, dtype::f32).config;
    cfg.head_dim = 41;
    const auto r = st::run_for(cfg, dtype::bf16, cpu_engine, st::tolerance_for(dtype::f32));
    BOOST_TEST(r.passed(), r.summary());
    BOOST_TEST(r.checks.size() == 8u);  // packed (3), cached (2) and pooled (3) checks
    for (const auto& c : r.checks) BOOST_TEST(c.model == "gemma3-sliding-softcap/bf16/head_dim=42");
    const auto q = st::make_model(st::arch_path::qwen3_qk_norm, 16, dtype::f32).config;
    for (const auto& c :
         st::run_for(q, dtype::f32, cpu_engine, st::tolerance_for(dtype::f32)).checks)
        BOOST_TEST(c.model == "qwen3-qk-norm/f32/head_dim=16");
}

BOOST_AUTO_TEST_CASE(a_16_bit_engine_passes_at_the_16_bit_tolerances) {
    // The reference with every stored activation rounded to bf16 / f16 models a correct 16-bit
    // backend: it must pass at the stated 16-bit limits (and fail at the f32 ones, or those
    // would be the ones to use).
    for (auto storage : {dtype::bf16, dtype::f16})
        for (int hd : {64, 256}) {
            const auto make = [&](const st::known_model& m) {
                return rt::reference_device::create(m.config, m.weights, storage);
            };
            const auto r = st::run_all(hd, storage, make, st::tolerance_for(storage));
            BOOST_TEST_MESSAGE((storage == dtype::bf16 ? "bf16" : "f16")
                               << " head_dim " << hd << ": " << r.summary());
            BOOST_TEST(r.passed(), r.summary());
            if (hd == 64)
                BOOST_TEST(!st::run_all(hd, storage, make, st::tolerance_for(dtype::f32)).passed());
        }
}

BOOST_AUTO_TEST_CASE(the_reference_passes_against_itself) {
    const auto r = st::run_all(
        32, dtype::f32,
        [](const st::known_model& m) { return rt::reference_device::create(m.config, m.weights); },
        {1e-6, 1e-6});
    BOOST_TEST(r.passed(), r.summary());
    BOOST_TEST(!has_check(r, "cached", true));  // no KV cache: no cached checks
}

BOOST_AUTO_TEST_CASE(a_log_prob_offset_fails_with_its_numbers) {
    const auto m = st::make_model(st::arch_path::llama_gqa_bias, 32, dtype::f32);
    const auto r = st::run(
        m,
        [](const st::known_model& k) -> std::unique_ptr<rt::device_model> {
            return std::make_unique<spoiled>(cpu_engine(k), [](auto batch, auto& inner) {
                inner.forward(batch);
                for (const auto& s : batch)
                    for (const auto& o : s.outputs)
                        if (o.logprob) *o.logprob += 0.01f;
            });
        },
        st::tolerance_for(dtype::f32));
    BOOST_TEST(!r.passed());
    BOOST_TEST(has_check(r, "log-probs (packed pass)", false));
    BOOST_TEST(has_check(r, "full logits (packed pass)", true));  // logits were left alone
    const std::string s = r.summary();
    BOOST_TEST(s.find("FAILED: llama-gqa-bias/f32/head_dim=32 log-probs (packed pass): error "
                      "0.01 > limit 0.002") != std::string::npos,
               s);
    BOOST_TEST(r.json().find("\"status\":\"failed\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_cache_that_ignores_the_block_table_fails_the_cached_checks) {
    const auto m = st::make_model(st::arch_path::qwen3_qk_norm, 32, dtype::f32);
    const auto r = st::run(
        m,
        [](const st::known_model& k) -> std::unique_ptr<rt::device_model> {
            return std::make_unique<spoiled>(cpu_engine(k), [](auto batch, auto& inner) {
                // Every sequence gets blocks 0, 1, 2, ...: the two sequences of a cached pass
                // overwrite each other's keys and values.
                std::vector<rt::forward_seq> b(batch.begin(), batch.end());
                static const std::vector<std::uint32_t> identity = [] {
                    std::vector<std::uint32_t> v(64);
                    for (std::uint32_t i = 0; i < 64; ++i) v[i] = i;
                    return v;
                }();
                for (auto& s : b)
                    if (!s.blocks.empty())
                        s.blocks = std::span<const std::uint32_t>(identity).first(s.blocks.size());
                inner.forward(b);
            });
        },
        st::tolerance_for(dtype::f32));
    BOOST_TEST(!r.passed());
    BOOST_TEST(has_check(r, "log-probs (packed pass)", true));
    BOOST_TEST(has_check(r, "log-probs (cached passes)", false), r.summary());
}

BOOST_AUTO_TEST_CASE(model_defects_are_caught_at_both_tolerances) {
    // The device runs a model that differs from the known one in one detail; the known answers
    // must expose it even at the looser 16-bit tolerances.
    struct defect {
        st::arch_path path;
        std::string from, to;  // config.json edit
        const char* what;
    };
    const defect defects[] = {
        {st::arch_path::gemma3_sliding_softcap, "\"sliding_window\": 24", "\"sliding_window\": 25",
         "log-probs"},
        {st::arch_path::gemma3_bidirectional, "\"sliding_window\": 24", "\"sliding_window\": 26",
         "pooling"},
        {st::arch_path::gemma3_sliding_softcap, "\"attn_logit_softcapping\": 3.0",
         "\"attn_logit_softcapping\": null", "log-probs"},
        {st::arch_path::llama_gqa_bias, "\"factor\": 8.0", "\"factor\": 4.0", "log-probs"},
    };
    for (const auto& d : defects)
        for (auto tol : {st::tolerance_for(dtype::f32), st::tolerance_for(dtype::bf16)}) {
            const auto m = st::make_model(d.path, 64, dtype::f32);
            const auto r = st::run(
                m,
                [&](const st::known_model& k) -> std::unique_ptr<rt::device_model> {
                    std::string cfg = k.config_json;
                    const auto at = cfg.find(d.from);
                    BOOST_REQUIRE(at != std::string::npos);
                    cfg.replace(at, d.from.size(), d.to);
                    const auto c = polyglot::model::parse_model_config(cfg, "defect");
                    return rt::reference_device::create(c, k.weights);
                },
                tol);
            BOOST_TEST(!r.passed(), d.to << " passed at limit " << tol.logprob);
            BOOST_TEST(has_check(r, d.what, false), d.to << ": " << r.summary());
        }
}

BOOST_AUTO_TEST_CASE(wrong_head_mapping_and_unwritten_outputs_fail) {
    // Grouped-query attention with the query heads mapped to the wrong KV head: emulated by a
    // model whose KV heads are swapped in the weights the device loads.
    const auto m = st::make_model(st::arch_path::llama_gqa_bias, 64, dtype::bf16);
    const auto swapped = st::run(
        m,
        [](const st::known_model& k) -> std::unique_ptr<rt::device_model> {
            std::vector<polyglot::model::owned_tensor> ts;
            for (const auto& name : k.weights.names()) {
                const auto& t = *k.weights.find(name);
                polyglot::model::owned_tensor o{
                    name, t.type, t.shape,
                    std::string(reinterpret_cast<const char*>(t.data), t.nbytes)};
                if (name.find("k_proj") != std::string::npos ||
                    name.find("v_proj") != std::string::npos) {
                    const std::size_t half = o.bytes.size() / 2;  // KV head 0 | KV head 1
                    o.bytes = o.bytes.substr(half) + o.bytes.substr(0, half);
                }
                ts.push_back(std::move(o));
            }
            auto ws = polyglot::model::weight_set::from_memory(
                polyglot::model::write_safetensors(ts), "swapped");
            return rt::reference_device::create(k.config, ws);
        },
        st::tolerance_for(dtype::bf16));
    BOOST_TEST(!swapped.passed());
    BOOST_TEST(has_check(swapped, "log-probs (packed pass)", false), swapped.summary());

    const auto silent = st::run(
        m,
        [](const st::known_model& k) -> std::unique_ptr<rt::device_model> {
            return std::make_unique<spoiled>(cpu_engine(k), [](auto batch, auto& inner) {
                std::vector<rt::forward_seq> b(batch.begin(), batch.end());
                std::vector<std::vector<rt::output_request>> outs;
                for (auto& s : b) {  // drop the greedy flags
                    outs.emplace_back(s.outputs.begin(), s.outputs.end());
                    for (auto& o : outs.back()) o.greedy = nullptr;
                    s.outputs = outs.back();
                }
                inner.forward(b);
            });
        },
        st::tolerance_for(dtype::bf16));
    BOOST_TEST(has_check(silent, "greedy flags (packed pass)", false), silent.summary());
}

BOOST_AUTO_TEST_CASE(a_device_that_throws_is_a_failure_not_an_exception) {
    const auto m = st::make_model(st::arch_path::qwen3_qk_norm, 16, dtype::f32);
    const auto r = st::run(
        m,
        [](const st::known_model& k) -> std::unique_ptr<rt::device_model> {
            return std::make_unique<spoiled>(cpu_engine(k), [](auto, auto&) {
                throw std::runtime_error("CUDA error cudaErrorIllegalAddress");
            });
        },
        st::tolerance_for(dtype::f32));
    BOOST_TEST(!r.passed());
    BOOST_REQUIRE_EQUAL(r.failures.size(), 1u);
    BOOST_TEST(r.summary().find("the device failed: CUDA error cudaErrorIllegalAddress") !=
                   std::string::npos,
               r.summary());
    const auto unloadable = st::run(
        m,
        [](const st::known_model&) -> std::unique_ptr<rt::device_model> {
            throw std::runtime_error("out of memory");
        },
        st::tolerance_for(dtype::f32));
    BOOST_TEST(unloadable.summary().find("could not load the model: out of memory") !=
               std::string::npos);
}
