// SPDX-License-Identifier: Apache-2.0
// The cpu engine against what HF transformers computed in float32 (fixtures' expected.json):
// response log-probs (1e-4), perplexities (1e-4 relative), pooled embeddings (1e-4, cosine ≥
// 0.99999), greedy next-token ids (exact); EmbeddingGemma through sentence-transformers
// modules (1e-5).
#define BOOST_TEST_MODULE engine_model
#include <cmath>

#include "cpu_runtime.hpp"
#include "fixtures.hpp"

using namespace engine_test;

namespace {

double cosine(const std::vector<double>& a, const float* b) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

void check_lm(const std::string& name) {
    auto dir = fixture(name);
    auto rt = open_cpu(dir, {.pooling = "", .need_lm_head = true});
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array cases = doc.root()["cases"].get_array();
    std::vector<std::string> ps, rs;
    for (auto c : cases) ps.push_back(str_of(c, "prompt")), rs.push_back(str_of(c, "response"));
    std::vector<std::string_view> pv(ps.begin(), ps.end()), rv(rs.begin(), rs.end());
    auto res = rt->score(pv, rv, {}, true);
    BOOST_REQUIRE_EQUAL(res.size(), cases.size());
    double worst = 0;
    std::size_t i = 0;
    for (auto c : cases) {
        BOOST_TEST_CONTEXT(name << " case " << i << " '" << ps[i] << "'") {
            auto want = doubles_of(c["response_logprobs"]);
            const auto& got = res[i].logprobs;
            BOOST_REQUIRE_EQUAL(got.size(), want.size());
            for (std::size_t k = 0; k < want.size(); ++k) {
                worst = std::max(worst, std::abs(got[k] - want[k]));
                BOOST_TEST(std::abs(got[k] - want[k]) <= 1e-4);
            }
            const double ppl_want = polyglot::model::as_number(c["perplexity"]).value();
            if (res[i].n_scored > 0) {
                const double ppl = std::exp(res[i].sum_nll / res[i].n_scored);
                BOOST_TEST(std::abs(ppl - ppl_want) / ppl_want <= 1e-4);
            }
            BOOST_TEST(res[i].prompt_tokens == ids_of(c["prompt_ids"]).size());
            BOOST_TEST(res[i].response_tokens == ids_of(c["response_ids"]).size());
            BOOST_TEST(!res[i].truncated);
        }
        ++i;
    }
    BOOST_TEST_MESSAGE(name << ": max |Δ log-prob| = " << worst);

    // Pooled embeddings (mean and last token of the final normed hidden states).
    simdjson::dom::array embs = doc.root()["embeddings"].get_array();
    for (auto e : embs) {
        auto ids = ids_of(e["ids"]);
        const auto d = std::size_t(rt->device().config().hidden_size);
        std::vector<float> mean(d), last(d);
        rt::forward_seq a, b;
        a.ids = ids, a.pooled = mean.data(), a.pooling = polyglot::model::pooling_mode::mean;
        b.ids = ids, b.pooled = last.data(), b.pooling = polyglot::model::pooling_mode::last;
        std::vector<rt::forward_seq> reqs{a, b};
        rt->device().forward(reqs);
        BOOST_TEST(rt->embed_ids(str_of(e, "text")) == ids, boost::test_tools::per_element());
        for (auto [key, got] : {std::pair{"mean_pooled", &mean}, std::pair{"last_token", &last}}) {
            auto want = doubles_of(e[key]);
            BOOST_REQUIRE_EQUAL(want.size(), d);
            double mx = 0;
            for (std::size_t k = 0; k < d; ++k) mx = std::max(mx, std::abs(want[k] - (*got)[k]));
            BOOST_TEST_CONTEXT(name << " " << key << " '" << str_of(e, "text") << "'") {
                BOOST_TEST(mx <= 1e-4);
                BOOST_TEST(cosine(want, got->data()) >= 0.99999);
            }
        }
    }
    // Greedy continuation.
    simdjson::dom::array gens = doc.root()["generation"].get_array();
    for (auto g : gens) {
        auto ids = ids_of(g["prompt_ids"]);
        auto want = ids_of(g["greedy_ids"]);
        rt::generate_options o;
        o.max_new_tokens = std::uint32_t(want.size());
        std::vector<std::vector<std::uint32_t>> prompts{ids};
        auto got = rt->generate(prompts, o)[0].ids;
        BOOST_TEST_CONTEXT(name << " greedy '" << str_of(g, "prompt") << "'") {
            BOOST_TEST(got == want, boost::test_tools::per_element());
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(llama3_rope_f32) { check_lm("tiny-llama"); }
BOOST_AUTO_TEST_CASE(llama_bf16_weights) { check_lm("tiny-llama-bf16"); }
BOOST_AUTO_TEST_CASE(qwen3_qk_norm_tied) { check_lm("tiny-qwen3"); }
BOOST_AUTO_TEST_CASE(gemma3_sliding_sandwich_linear_rope) { check_lm("tiny-gemma3"); }

BOOST_AUTO_TEST_CASE(embeddinggemma_sentence_transformers) {
    auto dir = fixture("tiny-embeddinggemma");
    auto rt = open_cpu(dir);
    BOOST_TEST(!rt->cannot_score().empty());  // bidirectional: an encoder, not a causal LM
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array texts = doc.root()["texts"].get_array();
    simdjson::dom::array embs = doc.root()["embeddings"].get_array();
    std::vector<std::string> ts;
    for (auto t : texts) {
        std::string_view v = t.get_string();
        ts.emplace_back(v);
    }
    std::vector<std::string_view> tv(ts.begin(), ts.end());
    BOOST_REQUIRE_EQUAL(rt->dim(), 64u);
    std::vector<float> out(ts.size() * rt->dim());
    rt->embed(tv, out.data());
    std::size_t i = 0;
    for (auto e : embs) {
        auto want = doubles_of(e);
        double mx = 0;
        for (std::size_t k = 0; k < want.size(); ++k)
            mx = std::max(mx, std::abs(want[k] - out[i * rt->dim() + k]));
        BOOST_TEST_CONTEXT("text " << i << " '" << ts[i] << "'") { BOOST_TEST(mx <= 1e-5); }
        ++i;
    }
}
