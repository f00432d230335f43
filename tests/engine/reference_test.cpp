// SPDX-License-Identifier: Apache-2.0
// The reference forward pass of the backends' self-test (plugins/common/runtime/
// reference_device.hpp) against what HF transformers computed (fixtures' expected.json): the
// known answers the self-test compares a GPU with are themselves checked against Hugging Face.
// Response log-probs through the shared runtime's SCORE, pooled states, greedy continuations
// (argmax of the reference's logits), and EmbeddingGemma through the sentence-transformers
// modules.
#define BOOST_TEST_MODULE engine_reference
#include <algorithm>
#include <cmath>

#include "common/runtime/lm_runtime.hpp"
#include "common/runtime/reference_device.hpp"
#include "fixtures.hpp"

using namespace engine_test;
namespace rt = polyglot::runtime;

namespace {

std::unique_ptr<rt::lm_runtime> open_reference(const std::filesystem::path& dir) {
    return rt::lm_runtime::open(
        dir, {}, [](const std::filesystem::path& d) { return rt::reference_device::load(d); });
}

void check_lm(const std::string& name, double lp_limit, double hidden_limit) {
    const auto dir = fixture(name);
    auto r = open_reference(dir);
    BOOST_REQUIRE(r->cannot_score().empty());
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array cases = doc.root()["cases"].get_array();
    std::vector<std::string> ps, rs;
    for (auto c : cases) ps.push_back(str_of(c, "prompt")), rs.push_back(str_of(c, "response"));
    std::vector<std::string_view> pv(ps.begin(), ps.end()), rv(rs.begin(), rs.end());
    const auto res = r->score(pv, rv, {}, true);
    BOOST_REQUIRE_EQUAL(res.size(), cases.size());
    double worst = 0;
    std::size_t i = 0;
    for (auto c : cases) {
        const auto want = doubles_of(c["response_logprobs"]);
        BOOST_REQUIRE_EQUAL(res[i].logprobs.size(), want.size());
        for (std::size_t k = 0; k < want.size(); ++k)
            worst = std::max(worst, std::abs(double(res[i].logprobs[k]) - want[k]));
        ++i;
    }
    BOOST_TEST_MESSAGE(name << ": max |Δ log-prob| = " << worst);
    BOOST_TEST(worst <= lp_limit, name << ": max |Δ log-prob| = " << worst);

    const auto& dev = dynamic_cast<const rt::reference_device&>(r->device());
    const std::size_t d = std::size_t(dev.config().hidden_size);
    double worst_h = 0;
    simdjson::dom::array embs = doc.root()["embeddings"].get_array();
    for (auto e : embs) {
        const auto ids = ids_of(e["ids"]);
        const auto out = dev.run(ids);
        const auto mean = doubles_of(e["mean_pooled"]), last = doubles_of(e["last_token"]);
        BOOST_REQUIRE_EQUAL(mean.size(), d);
        for (std::size_t k = 0; k < d; ++k) {
            double m = 0;
            for (std::size_t row = 0; row < out.rows; ++row) m += out.hidden[row * d + k];
            m /= double(out.rows);
            worst_h = std::max(worst_h, std::abs(m - mean[k]));
            worst_h = std::max(worst_h, std::abs(out.hidden[(out.rows - 1) * d + k] - last[k]));
        }
    }
    BOOST_TEST_MESSAGE(name << ": max |Δ pooled| = " << worst_h);
    BOOST_TEST(worst_h <= hidden_limit, name << ": max |Δ pooled| = " << worst_h);

    simdjson::dom::array gens = doc.root()["generation"].get_array();
    for (auto g : gens) {
        auto ids = ids_of(g["prompt_ids"]);
        const auto want = ids_of(g["greedy_ids"]);
        std::vector<std::uint32_t> got;
        while (got.size() < want.size()) {
            const auto out = dev.run(ids);
            const std::size_t V = out.logits.size() / out.rows;
            const double* l = out.logits.data() + (out.rows - 1) * V;
            const auto t = std::uint32_t(std::max_element(l, l + V) - l);
            got.push_back(t);
            ids.push_back(t);
        }
        BOOST_TEST(got == want, boost::test_tools::per_element());
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(llama3_rope) { check_lm("tiny-llama", 3e-5, 2e-5); }
BOOST_AUTO_TEST_CASE(llama_bf16_weights) { check_lm("tiny-llama-bf16", 3e-5, 2e-5); }
BOOST_AUTO_TEST_CASE(qwen3_qk_norm_tied) { check_lm("tiny-qwen3", 2e-5, 2e-5); }
BOOST_AUTO_TEST_CASE(gemma3_sliding_sandwich_linear_rope) { check_lm("tiny-gemma3", 2e-5, 2e-5); }

BOOST_AUTO_TEST_CASE(embeddinggemma_bidirectional_sentence_transformers) {
    const auto dir = fixture("tiny-embeddinggemma");
    auto r = open_reference(dir);
    BOOST_TEST(!r->cannot_score().empty());  // an encoder: the runtime refuses to score with it
    polyglot::model::json_document doc(dir / "expected.json");
    std::vector<std::string> ts;
    for (auto t : doc.root()["texts"].get_array())
        ts.emplace_back(std::string_view(t.get_string()));
    std::vector<std::string_view> tv(ts.begin(), ts.end());
    std::vector<float> out(ts.size() * r->dim());
    r->embed(tv, out.data());
    double worst = 0;
    std::size_t i = 0;
    for (auto e : doc.root()["embeddings"].get_array()) {
        const auto want = doubles_of(e);
        BOOST_REQUIRE_EQUAL(want.size(), r->dim());
        for (std::size_t k = 0; k < want.size(); ++k)
            worst = std::max(worst, std::abs(want[k] - double(out[i * r->dim() + k])));
        ++i;
    }
    BOOST_TEST_MESSAGE("embeddinggemma: max |Δ| = " << worst);
    BOOST_TEST(worst <= 1e-5, "max |Δ| = " << worst);
}
