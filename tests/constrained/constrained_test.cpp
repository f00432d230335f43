// SPDX-License-Identifier: Apache-2.0
// Constrained decoding (src/base/json/schema): schema validation and the DFA's outputs
// checked by python3-jsonschema (tests/oracles/json_schema_oracle.py); integer ranges checked
// against arithmetic; token bytes checked against the tokenizers' own encodings; the memoised
// trie masks checked against a scan of the whole vocabulary; budgeted random sampling always
// ends in a document the oracle accepts.
#define BOOST_TEST_MODULE json_schema
#include "common/constrained/constrained.hpp"

#include <simdjson.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "base/json/schema.hpp"
#include "oracle.hpp"

namespace fs = std::filesystem;
namespace js = polyglot::constrained;

namespace {

const std::string judge_schema =
    R"({"type":"object","properties":{"feedback":{"type":"string"},)"
    R"("score":{"type":"integer","minimum":1,"maximum":5}},"required":["feedback","score"],)"
    R"("additionalProperties":false})";

const std::string sft_schema =
    R"({"type":"object","properties":{"prompt":{"type":"string"},"response":{"type":"string"}},)"
    R"("required":["prompt","response"]})";

const std::string mixed_schema =
    R"({"type":"object","title":"t","properties":{)"
    R"("tags":{"type":"array","items":{"enum":["a","b\"q",3,true,null]},"minItems":1,"maxItems":3},)"
    R"("ratio":{"type":"number"},"ok":{"type":"boolean"},"none":{"type":"null"},)"
    R"("n":{"type":"integer","minimum":-20,"exclusiveMaximum":7},)"
    R"("inner":{"type":"object","properties":{"name":{"type":"string","maxLength":3}},)"
    R"("required":["name"]},"list":{"type":"array","items":{"type":"integer"}}},)"
    R"("required":["tags","ratio","ok","none","n","inner","list"]})";

using constrained_test::oracle;

fs::path test_asset(const std::string& name) {
    fs::path p = polyglot::data_dir() / "test-assets" / name / "tokenizer.json";
    if (!fs::exists(p)) BOOST_FAIL(p.string() + " is missing: run scripts/fetch-test-assets");
    return p;
}

fs::path fixture(const std::string& name) {
    fs::path p = fs::path("../shared/fixtures/models") / name;
    if (!fs::exists(p / "tokenizer.json"))
        BOOST_FAIL("fixture " + p.string() +
                   " is missing: run from the project root with "
                   "../shared present");
    return p;
}

/// Random walk through the DFA to an accepting state (uniform over live bytes, then forced to
/// finish along shortest paths once @p soft_len bytes are out).
std::string random_document(const js::grammar& g, std::mt19937_64& rng, std::size_t soft_len) {
    // Distances over all bytes for the forced ending.
    const std::size_t n = g.num_states();
    std::vector<std::uint32_t> dist(n, UINT32_MAX);
    for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t s = 0; s < n; ++s) {
            std::uint32_t d = g.accepting(std::int32_t(s)) ? 0 : UINT32_MAX;
            for (int b = 0; b < 256; ++b)
                if (auto t = g.step(std::int32_t(s), std::uint8_t(b));
                    t >= 0 && dist[t] != UINT32_MAX)
                    d = std::min(d, dist[t] + 1);
            if (d < dist[s]) {
                dist[s] = d;
                changed = true;
            }
        }
    }
    std::string out;
    std::int32_t s = g.start();
    for (;;) {
        if (g.accepting(s) && (out.size() > soft_len || rng() % 8 == 0)) break;
        std::vector<int> live;
        for (int b = 0; b < 256; ++b) {
            auto t = g.step(s, std::uint8_t(b));
            if (t < 0) continue;
            if (out.size() > soft_len && dist[t] >= dist[s]) continue;
            live.push_back(b);
        }
        if (live.empty()) break;
        const int b = live[rng() % live.size()];
        out += static_cast<char>(b);
        s = g.step(s, std::uint8_t(b));
    }
    BOOST_REQUIRE(g.accepting(s));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(validate_agrees_with_jsonschema) {
    std::vector<std::pair<std::string, std::string>> cases;
    auto add = [&](const std::string& s, std::vector<std::string> texts) {
        for (auto& t : texts) cases.emplace_back(s, std::move(t));
    };
    add(judge_schema,
        {R"({"feedback":"good","score":4})", R"( {"score": 5, "feedback": "x"} )",
         R"({"feedback":"good","score":0})", R"({"feedback":"good","score":6})",
         R"({"feedback":"good","score":"4"})", R"({"feedback":"good","score":4.0})",
         R"({"feedback":"good","score":4.5})", R"({"feedback":"good"})",
         R"({"feedback":"a","score":3,"extra":1})", R"({"feedback":"a","score":3} trailing)",
         R"({"feedback":"a","score":3,"score":4})", R"([1,2])", "garbage", "",
         R"({"feedback":null,"score":3})", R"({"feedback":"\u00e9\n","score":1})"});
    add(sft_schema, {R"({"prompt":"p","response":"r"})", R"({"prompt":"p","response":"r","x":1})",
                     R"({"prompt":"p"})", R"({"response":"r","prompt":7})"});
    add(mixed_schema,
        {R"({"tags":["a"],"ratio":1.5e3,"ok":true,"none":null,"n":6,"inner":{"name":"abc"},"list":[]})",
         R"({"tags":[],"ratio":1,"ok":true,"none":null,"n":6,"inner":{"name":"abc"},"list":[]})",
         R"({"tags":["a",3,true,null],"ratio":1,"ok":true,"none":null,"n":6,"inner":{"name":"a"},"list":[]})",
         R"({"tags":["c"],"ratio":1,"ok":true,"none":null,"n":6,"inner":{"name":"a"},"list":[]})",
         R"({"tags":["b\"q"],"ratio":-0.0,"ok":false,"none":null,"n":-20,"inner":{"name":""},"list":[1,-2]})",
         R"({"tags":[3.0],"ratio":1,"ok":false,"none":null,"n":7,"inner":{"name":""},"list":[]})",
         R"({"tags":[true],"ratio":1,"ok":false,"none":null,"n":-21,"inner":{"name":""},"list":[]})",
         R"({"tags":[true],"ratio":1,"ok":false,"none":null,"n":0,"inner":{"name":"abcd"},"list":[]})",
         R"({"tags":[true],"ratio":1,"ok":false,"none":null,"n":0,"inner":{"name":"日本語"},"list":[]})",
         R"({"tags":[true],"ratio":1,"ok":false,"none":null,"n":0,"inner":{},"list":[]})",
         R"({"tags":[true],"ratio":"1","ok":false,"none":null,"n":0,"inner":{"name":"x"},"list":[1.5]})",
         R"({"tags":[true],"ratio":1,"ok":0,"none":null,"n":0,"inner":{"name":"x"},"list":[]})"});
    const auto expect = oracle(cases);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto got = polyglot::model::validate_json_schema(cases[i].first, cases[i].second);
        BOOST_TEST_INFO("case " << i << ": " << cases[i].second << " (ours: " << got << ")");
        BOOST_TEST(got.empty() == expect[i].valid);
    }
}

BOOST_AUTO_TEST_CASE(compile_refuses_what_it_cannot_generate) {
    BOOST_CHECK_THROW(js::grammar::compile(R"({"type":"string","pattern":"a+"})"),
                      polyglot::unsupported_error);
    BOOST_CHECK_THROW(js::grammar::compile(R"({"type":["string","null"]})"),
                      polyglot::unsupported_error);
    BOOST_CHECK_THROW(js::grammar::compile("{not json"), polyglot::format_error);
    BOOST_CHECK_THROW(js::grammar::compile(R"({"type":"number","minimum":0})"),
                      polyglot::unsupported_error);
    BOOST_CHECK_THROW(js::grammar::compile(R"({"properties":{}})"), polyglot::unsupported_error);
}

BOOST_AUTO_TEST_CASE(integer_ranges_match_arithmetic) {
    struct range {
        std::optional<long long> lo, hi;
    };
    const std::vector<range> ranges = {
        {1, 5},     {0, 0},        {-5, -1},     {-17, 203}, {7, 7},   {10, 99},  {0, 1000},
        {123, 987}, {-999, 1},     {},           {3, {}},    {{}, -3}, {{}, 250}, {-250, {}},
        {100, {}},  {-1000, -100}, {1, 1000000}, {999, 1001}};
    for (const auto& r : ranges) {
        std::string schema = R"({"type":"integer")";
        if (r.lo) schema += ",\"minimum\":" + std::to_string(*r.lo);
        if (r.hi) schema += ",\"maximum\":" + std::to_string(*r.hi);
        schema += "}";
        auto g = js::grammar::compile(schema);
        BOOST_TEST_INFO(schema);
        for (long long v = -1300; v <= 1300; ++v) {
            const bool in = (!r.lo || v >= *r.lo) && (!r.hi || v <= *r.hi);
            BOOST_TEST_INFO(v);
            BOOST_TEST(g->matches(std::to_string(v)) == in);
        }
        for (long long v : {9999LL, 10000LL, 999999LL, 1000000LL, 1000001LL, -1000001LL,
                            123456789012LL, -123456789012LL}) {
            const bool in = (!r.lo || v >= *r.lo) && (!r.hi || v <= *r.hi);
            BOOST_TEST(g->matches(std::to_string(v)) == in);
        }
        for (const char* bad : {"", "-", "-0", "00", "01", "+1", "1.0", "1e2", " 1", "1 "})
            BOOST_TEST(!g->matches(bad));
    }
    // exclusive bounds (draft 2020 numbers and draft 4 booleans)
    auto g = js::grammar::compile(R"({"type":"integer","exclusiveMinimum":1.5,"maximum":4})");
    BOOST_TEST(!g->matches("1"));
    BOOST_TEST(g->matches("2"));
    BOOST_TEST(g->matches("4"));
    g = js::grammar::compile(
        R"({"type":"integer","minimum":1,"exclusiveMinimum":true,"maximum":4,"exclusiveMaximum":true})");
    BOOST_TEST(!g->matches("1"));
    BOOST_TEST(g->matches("3"));
    BOOST_TEST(!g->matches("4"));
}

BOOST_AUTO_TEST_CASE(dfa_documents_are_valid_and_compact_documents_match) {
    std::mt19937_64 rng(42);
    std::vector<std::pair<std::string, std::string>> cases;
    for (const auto& schema : {judge_schema, sft_schema, mixed_schema}) {
        auto g = js::grammar::compile(schema);
        for (int i = 0; i < 150; ++i) cases.emplace_back(schema, random_document(*g, rng, 60));
    }
    const auto res = oracle(cases);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto ours = polyglot::model::validate_json_schema(cases[i].first, cases[i].second);
        BOOST_TEST(res[i].valid, cases[i].second);
        BOOST_TEST(ours.empty(), cases[i].second << ": " << ours);
    }
    // The DFA takes what it should: compact documents in property order, one optional space
    // after ':' and ','; not pretty-printed ones, not reordered ones.
    auto g = js::grammar::compile(judge_schema);
    BOOST_TEST(g->matches(R"({"feedback":"Gut, \"ja\" \\ \/ \n\u00e9 😀","score":5})"));
    BOOST_TEST(g->matches(R"({"feedback": "x", "score": 1})"));
    BOOST_TEST(g->matches(R"({"feedback":"\ud83d\ude00","score":3})"));
    BOOST_TEST(!g->matches(R"({"feedback":"\ud83d","score":3})"));  // lone surrogate
    BOOST_TEST(!g->matches(R"({"score":5,"feedback":"x"})"));
    BOOST_TEST(!g->matches(R"({ "feedback":"x","score":5})"));
    BOOST_TEST(!g->matches(R"({"feedback":"x","score":6})"));
    BOOST_TEST(!g->matches("{\"feedback\":\"a\tb\",\"score\":5}"));          // raw control char
    BOOST_TEST(!g->matches("{\"feedback\":\"\xC3\",\"score\":5}"));          // truncated UTF-8
    BOOST_TEST(!g->matches("{\"feedback\":\"\xED\xA0\x80\",\"score\":5}"));  // UTF-8 surrogate
}

namespace {

struct tokenizer_case {
    std::string name;
    fs::path path;
};

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c < 0x80         ? 1
                              : (c >> 5) == 6  ? 2
                              : (c >> 4) == 14 ? 3
                              : (c >> 3) == 30 ? 4
                                               : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

/// Loaded once per process (the Gemma 3 vocabulary takes a while).
std::shared_ptr<const polyglot::model::hf_tokenizer> load_tokenizer(const fs::path& p) {
    static std::map<fs::path, std::shared_ptr<const polyglot::model::hf_tokenizer>> cache;
    auto& t = cache[p];
    if (!t) t = polyglot::model::hf_tokenizer::load(p);
    return t;
}

std::vector<tokenizer_case> tokenizers() {
    return {{"tiny-llama", fixture("tiny-llama") / "tokenizer.json"},
            {"tiny-qwen3", fixture("tiny-qwen3") / "tokenizer.json"},
            {"tiny-gemma3", fixture("tiny-gemma3") / "tokenizer.json"},
            {"gemma3", test_asset("gemma3")},
            {"llama3", test_asset("llama3")},
            {"qwen3", test_asset("qwen3")}};
}

const std::vector<std::string> texts = {
    "Hello, world! {\"score\": 5}",
    "Wie geht's dir?  Schön, dich zu sehen.\nZweite Zeile\t(Tab)",
    "日本語のテキストです。絵文字😀も",
    "مرحبا بالعالم",
    "Příliš žluťoučký kůň úpěl ďábelské ódy",
    "  leading spaces and trailing  ",
    "¿Qué tal? Ñandú 123456789 3.14159",
};

}  // namespace

BOOST_AUTO_TEST_CASE(token_bytes_spell_the_encoded_text) {
    for (const auto& tc : tokenizers()) {
        auto tok = load_tokenizer(tc.path);
        auto vocab = js::token_vocab::from_tokenizer(*tok, {}, tok->vocab_size());
        for (const auto& t : texts) {
            auto ids = tok->encode(t, {.add_special_tokens = false, .parse_special = false});
            std::string spelled;
            for (auto id : ids) spelled += vocab->bytes(id);
            BOOST_TEST_INFO(tc.name << ": " << t);
            BOOST_TEST(spelled == t);
        }
        // Every byte is a single token (byte-level alphabet or <0xXX> fallback).
        for (int b = 0; b < 256; ++b) BOOST_TEST(vocab->single_bytes()[std::size_t(b)]);
        // Each token alone decodes (hf_tokenizer::decode, checked against HF's Rust tokenizers)
        // to its bytes wherever those are whole UTF-8 (decode shows broken bytes as U+FFFD).
        std::size_t checked = 0, mismatched = 0;
        for (std::uint32_t id = 0; id < tok->vocab_size(); ++id) {
            const auto b = vocab->bytes(id);
            if (tok->is_special(id)) {
                BOOST_TEST(b.empty());
                continue;
            }
            if (b.empty() || !valid_utf8(b)) continue;
            const std::uint32_t one[] = {id};
            if (tok->decode(one) != b && mismatched++ < 3)
                BOOST_TEST_MESSAGE(tc.name << ": id " << id << " '" << b << "' decodes to '"
                                           << tok->decode(one) << "'");
            ++checked;
        }
        BOOST_TEST(mismatched == 0u, tc.name << ": " << mismatched << " of " << checked);
        BOOST_TEST(checked > tok->vocab_size() / 2);
    }
}

BOOST_AUTO_TEST_CASE(masks_equal_a_scan_of_the_vocabulary) {
    auto tok = load_tokenizer(test_asset("gemma3"));
    const std::size_t n_logits = tok->vocab_size() + 64;  // padded logit rows exist in real models
    auto vocab = js::token_vocab::from_tokenizer(*tok, {1, 106}, n_logits);
    for (const auto& schema : {judge_schema, mixed_schema}) {
        auto c = js::constraint::compile(schema, vocab);
        const auto& g = c->dfa();
        js::token_mask scratch;
        for (std::int32_t s = 0; s < std::int32_t(g.num_states()); ++s) {
            if (c->distance(s) == UINT32_MAX) continue;
            const js::token_mask& m = c->allowed(s, 0, scratch);
            std::size_t mismatches = 0;
            for (std::size_t id = 0; id < n_logits; ++id) {
                const auto b = vocab->bytes(js::token_id(id));
                bool expect = false;
                if (!b.empty()) {
                    auto t = g.walk(s, b);
                    expect = t >= 0 && c->distance(t) != UINT32_MAX;
                }
                if (id == 1 || id == 106) expect = g.accepting(s);
                if (m.test(id) != expect) ++mismatches;
            }
            BOOST_TEST_INFO("state " << s);
            BOOST_TEST(mismatches == 0u);
        }
        // Budget-filtered masks: only tokens after which the budget still covers the distance.
        for (std::int32_t s = 0; s < std::int32_t(g.num_states()); s += 3) {
            if (c->distance(s) == UINT32_MAX) continue;
            for (std::uint32_t r : {1u, 2u, 5u, 12u}) {
                const js::token_mask& m = c->allowed(s, r, scratch);
                std::size_t mismatches = 0;
                for (std::size_t id = 0; id < n_logits; ++id) {
                    const auto b = vocab->bytes(js::token_id(id));
                    bool expect = false;
                    if (!b.empty()) {
                        auto t = g.walk(s, b);
                        expect = t >= 0 && c->distance(t) < r;
                    }
                    if (id == 1 || id == 106) expect = g.accepting(s);
                    if (m.test(id) != expect) ++mismatches;
                }
                BOOST_TEST(mismatches == 0u);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(budgeted_sampling_always_completes) {
    std::mt19937_64 rng(7);
    std::vector<std::pair<std::string, std::string>> cases;
    for (const auto& tc : tokenizers()) {
        auto tok = load_tokenizer(tc.path);
        std::optional<std::uint32_t> eos;
        for (const char* name : {"<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>"})
            if (!eos) eos = tok->token_to_id(name);
        BOOST_REQUIRE_MESSAGE(eos, tc.name + ": no end-of-sequence token");
        auto vocab = js::token_vocab::from_tokenizer(*tok, {*eos}, tok->vocab_size());
        for (const auto& schema : {judge_schema, sft_schema, mixed_schema}) {
            auto c = js::constraint::compile(schema, vocab);
            js::token_mask scratch;
            const int n = tc.name == "gemma3" ? 100 : 50;
            for (int i = 0; i < n; ++i) {
                const std::uint32_t budget = c->min_tokens() + std::uint32_t(rng() % 40);
                auto s = c->start();
                std::string text;
                std::uint32_t used = 0;
                bool stopped = false;
                while (used < budget) {
                    const auto& m = c->allowed(s, budget - used, scratch);
                    std::vector<js::token_id> ids;
                    m.for_each([&](js::token_id t) { ids.push_back(t); });
                    BOOST_REQUIRE(!ids.empty());
                    const js::token_id t = ids[rng() % ids.size()];
                    ++used;
                    if (c->is_eos(t)) {
                        stopped = true;
                        break;
                    }
                    s = c->advance(s, t);
                    BOOST_REQUIRE(s != js::constraint::dead);
                    text += vocab->bytes(t);
                }
                BOOST_TEST_INFO(tc.name << ": " << text);
                BOOST_TEST((stopped || used == budget));
                BOOST_TEST(c->is_accepting(s));
                cases.emplace_back(schema, text);
            }
        }
    }
    const auto res = oracle(cases);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        BOOST_TEST_INFO(cases[i].second);
        BOOST_TEST(res[i].valid);
    }
}
