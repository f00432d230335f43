// SPDX-License-Identifier: Apache-2.0
// Constrained GENERATE on the cpu plugin with the random-weight fixture models: 1,000 judge
// outputs ({"feedback", "score": 1..5}) and 1,000 synthesis outputs ({"prompt", "response"})
// per model, every one a complete document that python3-jsonschema accepts; sampling under the
// mask is seeded: the same seed gives the same outputs however the job is split into calls and
// for any thread count, and another seed gives other outputs.
#define BOOST_TEST_MODULE constrained_generate
#include <simdjson.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <polyglot/judge/rubric.hpp>
#include <polyglot/plugin/services.hpp>
#include <polyglot/synth/synthesize.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/json/schema.hpp"
#include "oracle.hpp"

namespace fs = std::filesystem;
namespace pg = polyglot;

namespace {

fs::path fixture(const std::string& name) {
    fs::path p = fs::path("../shared/fixtures/models") / name;
    if (!fs::exists(p / "config.json"))
        BOOST_FAIL("fixture " + p.string() +
                   " is missing: run the tests from the project root with ../shared present");
    return p;
}

pg::backend_options cpu(std::size_t threads = 0) {
    pg::backend_options o;
    o.backend = "cpu";
    o.plugin_dirs = {fs::path(POLYGLOT_BINARY_DIR) / "plugins"};
    o.threads = threads;
    return o;
}

/// python3-jsonschema's verdict on each text.
std::vector<bool> oracle_valid(std::string_view schema, const std::vector<std::string>& texts) {
    std::vector<std::pair<std::string, std::string>> cases;
    for (const auto& t : texts) cases.emplace_back(std::string(schema), t);
    std::vector<bool> res;
    for (const auto& r : constrained_test::oracle(cases)) res.push_back(r.valid);
    return res;
}

std::vector<pg::generation> run(pg::generator& g, std::string_view schema, std::size_t n,
                                std::uint64_t seed, std::size_t split, std::uint32_t max_new) {
    std::vector<std::string> prompts;
    // Short prompts: the fixtures' context is 512 tokens (the judge's prompt has ~750).
    for (std::size_t i = 0; i < n; ++i)
        prompts.push_back("###The instruction to evaluate:\nFrage " + std::to_string(i) +
                          "\n\n###Response to evaluate:\nAntwort " + std::to_string(i * 7) +
                          "\n\n###Feedback:");
    std::vector<std::string_view> views(prompts.begin(), prompts.end());
    pg::generate_params p;
    p.temperature = 1.0f;
    p.top_p = 0.9f;
    p.seed = seed;
    p.max_new_tokens = max_new;
    p.json_schema = std::string(schema);
    std::vector<pg::generation> out(n);
    for (std::size_t a = 0; a < n; a += split) {
        const std::size_t b = std::min(n, a + split);
        g.generate(pg::prompt_kind::text, std::span(views).subspan(a, b - a), {}, a, p,
                   std::span(out).subspan(a, b - a));
    }
    return out;
}

void check_model(const std::string& name) {
    auto g = pg::open_generator(fixture(name).string(), cpu());
    for (std::string_view schema :
         {pg::judge::json_schema(), pg::synth::output_schema(pg::synth::strategy::generate)}) {
        const auto gens = run(*g, schema, 1000, 42, 1000, 48);
        std::vector<std::string> texts;
        std::size_t ended = 0;
        for (const auto& x : gens) {
            BOOST_REQUIRE(x.ok());
            texts.push_back(x.text);
            ended += x.finish_reason == POLYGLOT_FINISH_EOS;
            BOOST_TEST(x.ids.size() <= 48u);
        }
        BOOST_TEST(ended == 1000u, name << ": every output ends its document");
        const auto valid = oracle_valid(schema, texts);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < texts.size(); ++i)
            if (!valid[i] || !pg::model::validate_json_schema(schema, texts[i]).empty()) {
                if (bad++ < 3) BOOST_TEST_MESSAGE(name << ": invalid: " << texts[i]);
            }
        BOOST_TEST(bad == 0u, name << ": " << bad << " of 1000 outputs invalid for " << schema);
        // The judge's own parser takes every one.
        if (schema == pg::judge::json_schema()) {
            std::size_t scored = 0;
            for (const auto& t : texts) scored += pg::judge::parse_json(t).score > 0;
            BOOST_TEST(scored == 1000u);
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(tiny_llama) { check_model("tiny-llama"); }
BOOST_AUTO_TEST_CASE(tiny_llama_bf16) { check_model("tiny-llama-bf16"); }
BOOST_AUTO_TEST_CASE(tiny_qwen3) { check_model("tiny-qwen3"); }
BOOST_AUTO_TEST_CASE(tiny_gemma3) { check_model("tiny-gemma3"); }

BOOST_AUTO_TEST_CASE(seeded_and_reproducible_under_the_mask) {
    auto g1 = pg::open_generator(fixture("tiny-gemma3").string(), cpu(1));
    auto g2 = pg::open_generator(fixture("tiny-gemma3").string(), cpu(2));
    const auto schema = pg::judge::json_schema();
    const auto whole = run(*g2, schema, 60, 9, 60, 40);
    const auto split = run(*g1, schema, 60, 9, 7, 40);
    const auto other = run(*g2, schema, 60, 10, 60, 40);
    std::size_t same_other = 0;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        BOOST_TEST(whole[i].text == split[i].text);
        BOOST_TEST((whole[i].ids == split[i].ids));
        same_other += whole[i].text == other[i].text;
    }
    BOOST_TEST(same_other < 5u);
}

BOOST_AUTO_TEST_CASE(too_small_a_budget_is_a_length_finish) {
    auto g = pg::open_generator(fixture("tiny-llama").string(), cpu());
    // {"feedback":"","score":1} needs more than 3 tokens.
    const auto gens = run(*g, pg::judge::json_schema(), 4, 1, 4, 3);
    for (const auto& x : gens) {
        BOOST_TEST(x.finish_reason == POLYGLOT_FINISH_LENGTH);
        BOOST_TEST(!pg::model::validate_json_schema(pg::judge::json_schema(), x.text).empty());
    }
}
