// SPDX-License-Identifier: Apache-2.0
// polyglot eval's scoring on the fixture models through the cpu plugin:
//  * per-choice log-likelihoods equal what Hugging Face transformers computed (the fixtures'
//    expected.json: prompt with specials + response) wherever lighteval's joint token split
//    gives the same ids, and equal the text SCORE path on the same split;
//  * prefix-shared scoring (an item's choices in one call, the runtime reusing the shared
//    context) equals unshared scoring (one sequence per call) within 1e-5 per token, on every
//    task and language of tests/data/eval.
#define BOOST_TEST_MODULE eval_model
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <polyglot/json/value.hpp>
#include <polyglot/eval/runner.hpp>
#include <polyglot/eval/tasks.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <vector>

#include "eval_fixtures.hpp"

namespace fs = std::filesystem;
using namespace polyglot;
using namespace polyglot::eval;
using eval_test::cpu;
using eval_test::fixture;

namespace {

const char* const models[] = {"tiny-llama", "tiny-qwen3", "tiny-gemma3"};

}  // namespace

BOOST_AUTO_TEST_CASE(loglikelihoods_equal_transformers_and_text_score) {
    for (const char* name : models) {
        BOOST_TEST_CONTEXT(name) {
            const auto dir = fixture(name);
            auto model = open_scorer(dir.string(), cpu());
            const auto doc = analysis::read_json_file((dir / "expected.json").string());
            task t;
            t.key = "fixture|0";
            t.metrics = {"acc"};
            std::vector<double> want;
            std::vector<std::size_t> want_tokens;
            std::vector<std::string_view> prompts, responses;
            for (const auto& c : doc.find("cases")->as_array()) {
                const std::string p = c.find("prompt")->as_string();
                const std::string r = c.find("response")->as_string();
                // lighteval's split only equals HF's prompt/response split when encoding the
                // two together gives the same ids and the prompt has no trailing space
                std::vector<std::int32_t> ids;
                for (const char* k : {"prompt_ids", "response_ids"})
                    for (const auto& x : c.find(k)->as_array())
                        ids.push_back(static_cast<std::int32_t>(x.as_number()));
                const std::string whole = p + r;
                const std::string_view views[] = {whole};
                if (model->tokenize(views, true).front() != ids || p.empty() ||
                    std::isspace(static_cast<unsigned char>(p.back())))
                    continue;
                double sum = 0;
                for (const auto& x : c.find("response_logprobs")->as_array()) sum += x.as_number();
                want.push_back(sum);
                want_tokens.push_back(c.find("response_ids")->as_array().size());
                eval_item it;
                it.context = p;
                it.choices = {r};
                it.gold = {0};
                t.items.push_back(it);
            }
            BOOST_TEST_MESSAGE(name << ": " << t.items.size() << " cases with lighteval's split");
            BOOST_REQUIRE(t.items.size() >= 8u);
            for (const auto& it : t.items) {
                prompts.push_back(it.context);
                responses.push_back(it.choices[0]);
            }
            task_result r;
            score_task(*model, t, {}, r);
            std::vector<lm_score> text(t.items.size());
            model->score(prompts, responses, text);
            for (std::size_t i = 0; i < t.items.size(); ++i) {
                BOOST_REQUIRE(!r.items[i].failed);
                BOOST_TEST(r.items[i].tokens[0] == want_tokens[i]);
                const double tol = 1e-4 * double(want_tokens[i]);
                BOOST_TEST(std::fabs(r.items[i].logprobs[0] - want[i]) <= tol,
                           "case " << i << ": " << r.items[i].logprobs[0] << " vs HF " << want[i]);
                BOOST_TEST(text[i].n_scored == want_tokens[i]);
                BOOST_TEST(std::fabs(r.items[i].logprobs[0] + text[i].sum_nll) <=
                               1e-5 * double(want_tokens[i]),
                           "case " << i << ": score_ids " << r.items[i].logprobs[0] << " vs SCORE "
                                   << -text[i].sum_nll);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(prefix_sharing_equals_unshared_scoring) {
    std::vector<std::string> specs;
    for (const char* l : {"ar", "cs", "de", "es", "id", "ja", "en", "tl"})
        specs.push_back(std::string("global_mmlu_lite:") + l);
    for (const char* l : {"ar", "cs", "de", "es", "id", "ja"})
        specs.push_back(std::string("mrewardbench_mcf:") + l);
    load_options lo;
    lo.data = "tests/data/eval";
    lo.strict = true;
    std::vector<task> tasks;
    for (const auto& s : specs) tasks.push_back(load_task(parse_task(s), lo));
    for (const char* name : models) {
        BOOST_TEST_CONTEXT(name) {
            auto model = open_scorer(fixture(name).string(), cpu());
            double worst = 0;
            std::size_t compared = 0;
            for (const auto& t : tasks) {
                run_options shared, alone;
                shared.max_length = alone.max_length = 512;
                alone.share_prefix = false;
                task_result a, b;
                score_task(*model, t, shared, a);
                score_task(*model, t, alone, b);
                BOOST_TEST(a.failed == 0u);
                BOOST_TEST(b.failed == 0u);
                for (std::size_t i = 0; i < t.items.size(); ++i)
                    for (std::size_t c = 0; c < t.items[i].choices.size(); ++c) {
                        BOOST_REQUIRE(a.items[i].tokens[c] == b.items[i].tokens[c]);
                        worst = std::max(
                            worst, std::fabs(a.items[i].logprobs[c] - b.items[i].logprobs[c]) /
                                       double(a.items[i].tokens[c]));
                        ++compared;
                    }
            }
            BOOST_TEST_MESSAGE(name << ": " << compared << " choices, worst per-token difference "
                                    << worst);
            BOOST_TEST(compared == 8u * 20 * 4 + 6u * 20 * 2);
            BOOST_TEST(worst <= 1e-5);
        }
    }
}

BOOST_AUTO_TEST_CASE(generation_is_transformers_greedy) {
    for (const char* name : models) {
        BOOST_TEST_CONTEXT(name) {
            const auto dir = fixture(name);
            auto model = open_generator(dir.string(), cpu());
            const auto doc = analysis::read_json_file((dir / "expected.json").string());
            const auto eos =
                analysis::parse_json(model->info_json(), "info").find("eos_token_ids")->as_array();
            task t;
            t.key = "greedy|0";
            t.kind = task_kind::generative;
            t.metrics = {"extractive_match"};
            t.generation_size = 8;  // the fixture's greedy continuations have 8 tokens
            std::vector<std::vector<std::int32_t>> want;
            for (const auto& g : doc.find("generation")->as_array()) {
                eval_item it;
                it.context = g.find("prompt")->as_string();
                it.gold_text = "0";
                t.items.push_back(it);
                std::vector<std::int32_t> ids;
                for (const auto& x : g.find("greedy_ids")->as_array()) {
                    const auto id = static_cast<std::int32_t>(x.as_number());
                    bool stop = false;
                    for (const auto& e : eos) stop = stop || e.as_number() == id;
                    if (stop) break;  // generation ends at an EOS id
                    ids.push_back(id);
                }
                want.push_back(ids);
            }
            BOOST_REQUIRE(!t.items.empty());
            task_result r;
            generate_task(*model, t, {}, r);
            for (std::size_t i = 0; i < t.items.size(); ++i) {
                BOOST_REQUIRE(!r.items[i].failed);
                BOOST_TEST(r.items[i].generated_ids == want[i], boost::test_tools::per_element());
            }
        }
    }
}
