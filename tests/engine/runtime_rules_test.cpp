// SPDX-License-Identifier: Apache-2.0
// The shared runtime's rules hold whatever the device: a recording device (no weights) stands
// in for a backend, and the test checks what the runtime asks of it. One SCORE truncation
// policy (keep the special prefix, drop prompt tokens from the left, then response tokens from
// the right, counted); bidirectional encoders refuse SCORE, SCORE_IDS and GENERATE with the
// reason but still embed; a device without a KV cache gets whole sequences and no GENERATE.
#define BOOST_TEST_MODULE runtime_rules
#include <polyglot/core/error.hpp>

#include "common/runtime/lm_runtime.hpp"
#include "fixtures.hpp"

using namespace engine_test;
namespace rt = polyglot::runtime;

namespace {

/// A device that records each pass and answers with made-up numbers.
class recording_device final : public rt::device_model {
  public:
    explicit recording_device(const std::filesystem::path& dir)
        : cfg_(polyglot::model::load_model_config(dir)) {}
    const polyglot::model::model_config& config() const noexcept override { return cfg_; }
    bool has_lm_head() const noexcept override { return true; }
    std::string describe_json() const override { return "\"backend\": \"recording\""; }
    std::size_t pass_tokens() const noexcept override { return 4096; }
    void forward(std::span<const rt::forward_seq> batch) override {
        for (const auto& s : batch) {
            BOOST_TEST(s.blocks.empty());
            seen.emplace_back(s.ids.begin(), s.ids.end());
            for (const auto& o : s.outputs)
                if (o.logprob) *o.logprob = -1.0f;
            if (s.pooled) std::fill_n(s.pooled, cfg_.hidden_size, 1.0f);
        }
    }
    std::vector<std::vector<rt::token_id>> seen;

  private:
    polyglot::model::model_config cfg_;
};

std::unique_ptr<rt::lm_runtime> open_recording(const std::filesystem::path& dir,
                                               rt::options o = {}) {
    return rt::lm_runtime::open(dir, o, [](const std::filesystem::path& d) {
        return std::make_unique<recording_device>(d);
    });
}

std::vector<rt::token_id> cat(std::vector<rt::token_id> a, const std::vector<rt::token_id>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_truncation_policy) {
    auto r = open_recording(fixture("tiny-llama"), {.pooling = "", .max_tokens = 8});
    auto& dev = static_cast<recording_device&>(r->device());
    const std::string prompt = "a long prompt that surely has more than eight tokens";
    const auto p = r->tokenize(prompt, true, false),
               q = r->tokenize("and a response", false, false);
    BOOST_REQUIRE(p.size() > 8u);
    BOOST_REQUIRE_EQUAL(p[0], 0u);  // BOS
    BOOST_REQUIRE(q.size() < 7u);
    // Prompt cut from the left after BOS; the response whole.
    const std::string xs(40, 'x');
    std::vector<std::string_view> ps{prompt, prompt}, rs{"and a response", xs};
    const auto res = r->score(ps, rs);
    BOOST_REQUIRE_EQUAL(dev.seen.size(), 2u);
    const std::size_t keep = 8 - 1 - q.size();
    const auto want0 = cat(cat({0}, std::vector<rt::token_id>(p.end() - long(keep), p.end())), q);
    BOOST_TEST(dev.seen[0] == want0, boost::test_tools::per_element());
    BOOST_TEST(res[0].truncated);
    BOOST_TEST(res[0].prompt_tokens == 1u + keep);
    BOOST_TEST(res[0].response_tokens == q.size());
    BOOST_TEST(res[0].n_scored == q.size());
    BOOST_TEST(res[0].sum_nll == double(q.size()));
    // A response longer than the limit: BOS kept, the prompt dropped, the response cut from
    // the right.
    const auto x = r->tokenize(xs, false, false);
    BOOST_REQUIRE(x.size() > 7u);
    const auto want1 = cat({0}, std::vector<rt::token_id>(x.begin(), x.begin() + 7));
    BOOST_TEST(dev.seen[1] == want1, boost::test_tools::per_element());
    BOOST_TEST(res[1].prompt_tokens == 1u);
    BOOST_TEST(res[1].response_tokens == 7u);
    BOOST_TEST(res[1].truncated);
}

BOOST_AUTO_TEST_CASE(bidirectional_models_refuse_scoring_and_generation) {
    auto r = open_recording(fixture("tiny-embeddinggemma"));
    BOOST_TEST(r->cannot_score().find("bidirectional") != std::string::npos, r->cannot_score());
    BOOST_TEST(!r->cannot_generate().empty());
    std::vector<std::string_view> t{"Iceland"};
    BOOST_CHECK_THROW((void)r->score(t, t), polyglot::unsupported_error);
    std::vector<std::int32_t> ids{2, 45, 71};
    std::vector<std::span<const std::int32_t>> seqs{ids};
    std::vector<float> lp(3);
    std::vector<float*> out{lp.data()};
    BOOST_CHECK_THROW(r->score_ids(seqs, std::vector<std::size_t>{1}, out, {}),
                      polyglot::unsupported_error);
    BOOST_CHECK_THROW((void)r->generate(std::vector<std::vector<rt::token_id>>{{2, 45}}, {}),
                      polyglot::unsupported_error);
    // It embeds (through its sentence-transformers modules).
    std::vector<float> e(r->dim());
    r->embed(t, e.data());
    BOOST_TEST(r->dim() == 64u);
    try {
        (void)r->score(t, t);
    } catch (const polyglot::unsupported_error& err) {
        BOOST_TEST(std::string(err.what()).find("bidirectional") != std::string::npos, err.what());
    }
}

BOOST_AUTO_TEST_CASE(devices_without_kv_cache_get_whole_sequences) {
    auto r = open_recording(fixture("tiny-qwen3"));
    auto& dev = static_cast<recording_device&>(r->device());
    BOOST_TEST(r->cannot_score().empty());
    BOOST_TEST(r->cannot_generate().find("KV cache") != std::string::npos, r->cannot_generate());
    // score_ids: each sequence whole in one pass (no prefix reuse without a cache).
    std::vector<std::int32_t> a{41, 67, 303, 342}, b{41, 67, 303, 999};
    std::vector<std::span<const std::int32_t>> seqs{a, b};
    std::vector<float> la(4, -9), lb(4, -9);
    std::vector<float*> out{la.data(), lb.data()};
    r->score_ids(seqs, std::vector<std::size_t>{2, 3}, out, {});
    BOOST_REQUIRE_EQUAL(dev.seen.size(), 2u);
    BOOST_TEST(dev.seen[1].size() == 4u);
    BOOST_TEST(la[1] == -9.0f);  // not scored: left alone
    BOOST_TEST(la[2] == -1.0f);
    BOOST_TEST(lb[2] == -9.0f);
    BOOST_TEST(lb[3] == -1.0f);
}
