// SPDX-License-Identifier: Apache-2.0
// The ABI 1.1 language-model operations of the cpu plugin through the host and the services,
// against what Hugging Face transformers computed (the fixtures' expected.json): tokenize
// (special tokens added and parsed or not), score_ids (response log-probs within 1e-4, NaN
// outside the scored range, greedy flags on HF's greedy continuations), detokenize, and the
// model description (EOS / BOS from generation_config.json, context, vocabulary).
#define BOOST_TEST_MODULE lm_ops
#include <simdjson.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <vector>

#include "../fixture_models.hpp"

namespace fs = std::filesystem;
namespace pp = polyglot::plugin;

namespace {

using fixture_models::fixture;

polyglot::backend_options cpu() {
    polyglot::backend_options o;
    o.backend = "cpu";
    o.plugin_dirs = {fs::path(POLYGLOT_BINARY_DIR) / "plugins"};
    return o;
}

std::vector<std::int32_t> ids_of(simdjson::dom::element e) {
    std::vector<std::int32_t> out;
    for (auto x : e.get_array()) out.push_back(std::int32_t(std::int64_t(x.get_int64())));
    return out;
}

struct lm_case {
    std::string prompt, response;
    std::vector<std::int32_t> prompt_ids, response_ids;
    std::vector<double> logprobs;
};

struct expected {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::vector<lm_case> cases;
    explicit expected(const fs::path& dir) {
        root = parser.load((dir / "expected.json").string());
        for (auto c : root["cases"].get_array()) {
            lm_case k;
            k.prompt = std::string(std::string_view(c["prompt"].get_string()));
            k.response = std::string(std::string_view(c["response"].get_string()));
            k.prompt_ids = ids_of(c["prompt_ids"]);
            k.response_ids = ids_of(c["response_ids"]);
            for (auto x : c["response_logprobs"].get_array()) k.logprobs.push_back(double(x));
            cases.push_back(std::move(k));
        }
    }
};

const char* const lms[] = {"tiny-llama", "tiny-llama-bf16", "tiny-qwen3", "tiny-gemma3"};

}  // namespace

BOOST_AUTO_TEST_CASE(tokenize_matches_transformers) {
    for (const char* name : lms) {
        const auto dir = fixture(name);
        expected ex(dir);
        auto s = polyglot::open_scorer(dir.string(), cpu());
        std::vector<std::string_view> p, r;
        for (const auto& c : ex.cases) p.push_back(c.prompt), r.push_back(c.response);
        const auto pi = s->tokenize(p, true), ri = s->tokenize(r, false);
        for (std::size_t i = 0; i < ex.cases.size(); ++i)
            BOOST_TEST_CONTEXT(name << " case " << i) {
                BOOST_TEST(pi[i] == ex.cases[i].prompt_ids, boost::test_tools::per_element());
                BOOST_TEST(ri[i] == ex.cases[i].response_ids, boost::test_tools::per_element());
            }
    }
}

BOOST_AUTO_TEST_CASE(score_ids_matches_transformers) {
    for (const char* name : lms) {
        const auto dir = fixture(name);
        expected ex(dir);
        auto s = polyglot::open_scorer(dir.string(), cpu());
        std::vector<std::vector<std::int32_t>> seqs;
        std::vector<std::size_t> from;
        for (const auto& c : ex.cases) {
            auto q = c.prompt_ids;
            q.insert(q.end(), c.response_ids.begin(), c.response_ids.end());
            seqs.push_back(q);
            from.push_back(c.prompt_ids.size());
        }
        std::vector<std::vector<float>> lp;
        std::vector<std::vector<std::uint8_t>> greedy;
        s->score_ids(seqs, from, lp, &greedy);
        BOOST_REQUIRE_EQUAL(lp.size(), seqs.size());
        double worst = 0;
        for (std::size_t i = 0; i < seqs.size(); ++i) BOOST_TEST_CONTEXT(name << " case " << i) {
                BOOST_REQUIRE_EQUAL(lp[i].size(), seqs[i].size());
                const std::size_t f = std::max<std::size_t>(from[i], 1);
                for (std::size_t p = 0; p < seqs[i].size(); ++p) {
                    if (p < f) {
                        BOOST_TEST(std::isnan(lp[i][p]));
                        BOOST_TEST(greedy[i][p] == 0);
                        continue;
                    }
                    const double want = ex.cases[i].logprobs[p - f];
                    worst = std::max(worst, std::abs(lp[i][p] - want));
                    BOOST_TEST(std::abs(lp[i][p] - want) <= 1e-4);
                }
            }
        BOOST_TEST_MESSAGE(name << ": max |Δ log-prob| vs transformers = " << worst);

        // HF's greedy continuations are the argmax at every generated position.
        seqs.clear();
        from.clear();
        for (auto g : ex.root["generation"].get_array()) {
            auto q = ids_of(g["prompt_ids"]);
            from.push_back(q.size());
            const auto gi = ids_of(g["greedy_ids"]);
            q.insert(q.end(), gi.begin(), gi.end());
            seqs.push_back(q);
        }
        s->score_ids(seqs, from, lp, &greedy);
        for (std::size_t i = 0; i < seqs.size(); ++i)
            for (std::size_t p = from[i]; p < seqs[i].size(); ++p)
                BOOST_TEST(greedy[i][p] == 1, name << " generation " << i << " position " << p);
    }
}

BOOST_AUTO_TEST_CASE(score_ids_item_failures_and_edges) {
    const auto dir = fixture("tiny-llama");
    auto s = polyglot::open_scorer(dir.string(), cpu());
    // An id outside the vocabulary (2000) and a sequence longer than the context (512) fail
    // their items only; a single token has nothing to score.
    std::vector<std::vector<std::int32_t>> seqs = {
        {0, 42, 68, 304}, {0, 42, 5000, 304}, std::vector<std::int32_t>(600, 7), {0}, {0, -3, 5}};
    std::vector<std::size_t> from = {2, 1, 1, 0, 1};
    std::vector<std::pair<std::uint64_t, std::string>> failed;
    polyglot::call_hooks hooks;
    hooks.item_error = [&](std::uint64_t i, polyglot_status st, std::string_view m) {
        BOOST_TEST(st == POLYGLOT_STATUS_INVALID_ARGUMENT);
        failed.emplace_back(i, std::string(m));
    };
    std::vector<std::vector<float>> lp;
    s->score_ids(seqs, from, lp, nullptr, &hooks);
    BOOST_REQUIRE_EQUAL(failed.size(), 3u);
    BOOST_TEST(failed[0].first == 1u);
    BOOST_TEST(failed[0].second.find("5000") != std::string::npos, failed[0].second);
    BOOST_TEST(failed[1].first == 2u);
    BOOST_TEST(failed[1].second.find("context") != std::string::npos, failed[1].second);
    BOOST_TEST(failed[2].first == 4u);
    BOOST_TEST(!std::isnan(lp[0][2]));
    BOOST_TEST(!std::isnan(lp[0][3]));
    BOOST_TEST(std::isnan(lp[0][1]));
    for (float v : lp[1]) BOOST_TEST(std::isnan(v));
    BOOST_TEST(std::isnan(lp[3][0]));
    // Without per-item hooks the first failure fails the call, naming the item.
    try {
        s->score_ids(seqs, from, lp, nullptr);
        BOOST_FAIL("no error");
    } catch (const polyglot::error& e) {
        BOOST_TEST(std::string(e.what()).find("item 1") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(tokenize_parse_special_and_detokenize) {
    const auto dir = fixture("tiny-llama");
    auto m = pp::open_model("cpu", POLYGLOT_CAP_TOKENIZE, "{\"model\": \"" + dir.string() + "\"}",
                            {.plugin_dirs = cpu().plugin_dirs});
    BOOST_TEST(m.supports(POLYGLOT_OP_DETOKENIZE));
    BOOST_TEST(m.supports(POLYGLOT_OP_SCORE_IDS));
    BOOST_TEST(m.supports(POLYGLOT_OP_GENERATE));
    std::vector<std::string_view> t = {"<|end_of_text|>"};
    const auto parsed = m.tokenize(t, POLYGLOT_TOKENIZE_PARSE_SPECIAL);
    const auto split = m.tokenize(t, 0);
    const auto both =
        m.tokenize(t, POLYGLOT_TOKENIZE_PARSE_SPECIAL | POLYGLOT_TOKENIZE_ADD_SPECIAL);
    BOOST_TEST(parsed[0] == std::vector<std::int32_t>{1}, boost::test_tools::per_element());
    BOOST_TEST(split[0].size() > 1u);
    BOOST_TEST(both[0] == (std::vector<std::int32_t>{0, 1}), boost::test_tools::per_element());
    // Text → ids → text, special tokens kept or skipped.
    expected ex(dir);
    std::vector<std::vector<std::int32_t>> seqs;
    for (const auto& c : ex.cases) {
        auto q = c.prompt_ids;
        q.insert(q.end(), c.response_ids.begin(), c.response_ids.end());
        seqs.push_back(q);
    }
    const auto with = m.detokenize(seqs, 0);
    const auto without = m.detokenize(seqs, POLYGLOT_DETOKENIZE_SKIP_SPECIAL);
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        const auto& c = ex.cases[i];
        BOOST_TEST(without[i] == c.prompt + c.response, "case " << i);
        BOOST_TEST(with[i] == "<|begin_of_text|>" + c.prompt + c.response, "case " << i);
    }
}

BOOST_AUTO_TEST_CASE(info_json_describes_generation) {
    struct want {
        const char* model;
        const char* eos;
        const char* bos;
        int vocab;
    };
    for (const want& w :
         {want{"tiny-llama", "[1]", "0", 2000}, want{"tiny-qwen3", "[0]", "null", 2000},
          want{"tiny-gemma3", "[1]", "2", 2256}}) {
        auto s = polyglot::open_scorer(fixture(w.model).string(), cpu());
        const std::string info = s->info_json();
        simdjson::dom::parser parser;
        simdjson::dom::element e = parser.parse(info);
        BOOST_TEST_CONTEXT(w.model << " " << info) {
            BOOST_TEST(simdjson::to_string(e["eos_token_ids"]) == w.eos);
            BOOST_TEST(simdjson::to_string(e["bos_token_id"]) == w.bos);
            BOOST_TEST(std::int64_t(e["vocab_size"]) == w.vocab);
            BOOST_TEST(std::int64_t(e["max_context"]) == 512);  // max_position_embeddings
            BOOST_TEST(std::int64_t(e["max_token_bytes"]) >= 4);
            BOOST_TEST(std::string_view(e["backend"]) == "cpu");
            BOOST_TEST(std::string_view(e["device"]) == "cpu");
            // The engine's known-answer self-test for this architecture ran at load and passed.
            BOOST_TEST(std::string_view(e["self_test"]).starts_with("passed: 1 models, 8 checks"));
        }
    }
}

BOOST_AUTO_TEST_CASE(score_ids_computes_a_shared_context_once) {
    // Student evaluation: four choices scored after one context. The context is computed once
    // (whole KV blocks of 16 tokens are shared), and every choice's log-probs are bit-identical
    // to scoring it alone.
    const auto dir = fixture("tiny-llama");
    auto s = polyglot::open_scorer(dir.string(), cpu());
    std::vector<std::int32_t> ctx;
    for (int i = 0; i < 100; ++i) ctx.push_back(2 + (i * 37) % 1990);
    std::vector<std::vector<std::int32_t>> seqs;
    for (std::int32_t choice : {65, 66, 67, 68}) {
        auto q = ctx;
        q.insert(q.end(), {choice, 300, 301});
        seqs.push_back(q);
    }
    const std::vector<std::size_t> from(4, ctx.size());
    std::uint64_t tokens = 0;
    polyglot::call_hooks hooks;
    hooks.progress = [&](std::uint64_t, std::uint64_t, std::uint64_t t) { tokens = t; };
    std::vector<std::vector<float>> together, alone;
    s->score_ids(seqs, from, together, nullptr, &hooks);
    // 103 tokens for the first; the others reuse 96 (6 blocks) and compute 7.
    BOOST_TEST(tokens == 103u + 3 * 7u);
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        std::vector<std::vector<std::int32_t>> one{seqs[i]};
        s->score_ids(one, std::vector<std::size_t>{ctx.size()}, alone, nullptr, &hooks);
        BOOST_TEST(tokens == 103u);
        for (std::size_t p = ctx.size(); p < seqs[i].size(); ++p)
            BOOST_TEST(alone[0][p] == together[i][p], "choice " << i << " position " << p);
    }
}
