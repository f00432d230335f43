// SPDX-License-Identifier: Apache-2.0
// Hugging Face tokenizer.json: ids must equal what `tokenizers` produced for the fixtures.
#define BOOST_TEST_MODULE engine_tokenizer
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/text/hf_tokenizer.hpp>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "common/stop_strings.hpp"
#include "base/unicode/unicode.hpp"
#include "fixtures.hpp"

using namespace engine_test;
namespace pm = polyglot::model;

namespace {

void check_cases(const std::string& name) {
    auto dir = fixture(name);
    auto tok = pm::hf_tokenizer::load(dir);
    polyglot::model::json_document doc(dir / "expected.json");
    int n = 0;
    simdjson::dom::array cases = doc.root()["cases"].get_array();
    for (auto c : cases) {
        auto prompt = str_of(c, "prompt"), response = str_of(c, "response");
        BOOST_TEST_CONTEXT(name << " prompt '" << prompt << "'") {
            auto p = tok->encode(prompt, {.add_special_tokens = true});
            auto r = tok->encode(response, {.add_special_tokens = false});
            auto ep = ids_of(c["prompt_ids"]), er = ids_of(c["response_ids"]);
            BOOST_TEST(p == ep, boost::test_tools::per_element());
            BOOST_TEST(r == er, boost::test_tools::per_element());
        }
        ++n;
    }
    BOOST_TEST(n > 10);
}

}  // namespace

BOOST_AUTO_TEST_CASE(llama3_style_byte_level_bpe) { check_cases("tiny-llama"); }
BOOST_AUTO_TEST_CASE(llama_bf16_shares_the_tokenizer) { check_cases("tiny-llama-bf16"); }
BOOST_AUTO_TEST_CASE(qwen_byte_level_bpe_nfc) { check_cases("tiny-qwen3"); }
BOOST_AUTO_TEST_CASE(gemma_sentencepiece_bpe_byte_fallback) { check_cases("tiny-gemma3"); }

BOOST_AUTO_TEST_CASE(embeddinggemma_texts) {
    auto dir = fixture("tiny-embeddinggemma");
    auto tok = pm::hf_tokenizer::load(dir);
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array texts = doc.root()["texts"].get_array();
    simdjson::dom::array ids = doc.root()["ids"].get_array();
    BOOST_REQUIRE_EQUAL(texts.size(), ids.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::string_view tv = texts.at(i).get_string();
        std::string t(tv);
        auto got = tok->encode(t, {.add_special_tokens = true});
        auto want = ids_of(ids.at(i));
        BOOST_TEST_CONTEXT("text '" << t << "'") {
            BOOST_TEST(got == want, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(special_tokens_in_text) {
    auto tok = pm::hf_tokenizer::load(fixture("tiny-llama"));
    // `tokenizers` recognises special-token text by default; text::tokenizer does not.
    auto parsed = tok->encode("a<|end_of_text|>b", {});
    BOOST_TEST(std::count(parsed.begin(), parsed.end(), 1u) == 1);
    auto plain = polyglot::text::open_hf_tokenizer(fixture("tiny-llama"));
    std::vector<std::uint32_t> ids;
    plain->encode("a<|end_of_text|>b", ids);
    BOOST_TEST(std::count(ids.begin(), ids.end(), 1u) == 0);
    BOOST_TEST(ids.size() > 3u);
    BOOST_TEST(plain->name().rfind("hf:", 0) == 0u);
    BOOST_TEST(tok->prefix_special() == std::vector<std::uint32_t>{0});
    BOOST_TEST(pm::hf_tokenizer::load(fixture("tiny-qwen3"))->prefix_special().empty());
}

BOOST_AUTO_TEST_CASE(unsupported_model_type_names_the_file) {
    auto tmp = std::filesystem::temp_directory_path() / "polyglot_engine_tok_test";
    std::filesystem::create_directories(tmp);
    auto f = tmp / "tokenizer.json";
    std::ofstream(f) << R"({"model": {"type": "Morfessor", "vocab": {"a": 0}}})";
    try {
        (void)pm::hf_tokenizer::load(tmp);
        BOOST_FAIL("Morfessor accepted");
    } catch (const polyglot::unsupported_error& e) {
        BOOST_TEST(std::string(e.what()).find(f.string()) != std::string::npos);
        BOOST_TEST(std::string(e.what()).find("Morfessor") != std::string::npos);
    }
    std::ofstream(f) << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [)";
    BOOST_CHECK_THROW((void)pm::hf_tokenizer::load(tmp), polyglot::format_error);
    std::filesystem::remove_all(tmp);
}

// ---- hostile files --------------------------------------------------------------------------

namespace {

void expect_format_error(const std::string& json, const std::string& needle) {
    auto tmp = std::filesystem::temp_directory_path() / "polyglot_engine_tok_hostile";
    std::filesystem::create_directories(tmp);
    std::ofstream(tmp / "tokenizer.json") << json;
    try {
        (void)pm::hf_tokenizer::load(tmp);
        BOOST_ERROR("accepted: " << json.substr(0, 120));
    } catch (const polyglot::format_error& e) {
        BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos, e.what());
    }
    std::filesystem::remove_all(tmp);
}

}  // namespace

BOOST_AUTO_TEST_CASE(hostile_ids_are_errors_before_any_allocation) {
    const std::string model =
        R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";
    expect_format_error(
        R"({"added_tokens": [{"id": 4000000000, "content": "<x>", "special": true}], )" + model +
            "}",
        "out-of-range id");
    expect_format_error(
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 4000000000}, "merges": []}})",
        "not a valid id");
    expect_format_error(
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 2000000000}, "merges": []}})",
        "sparse");
    expect_format_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})",
                        "missing from the vocabulary");
}

BOOST_AUTO_TEST_CASE(continuing_subword_prefix_is_stripped_from_the_right_part_of_a_merge) {
    // `tokenizers`: merge ("a", "##b") produces "ab" (not "a##b").
    auto tmp = std::filesystem::temp_directory_path() / "polyglot_engine_tok_prefix";
    std::filesystem::create_directories(tmp);
    std::ofstream(tmp / "tokenizer.json") << R"({"model": {"type": "BPE",
        "vocab": {"a": 0, "##b": 1, "ab": 2, "b": 3, "##a": 4},
        "merges": [["a", "##b"]], "continuing_subword_prefix": "##"}})";
    auto tok = pm::hf_tokenizer::load(tmp);
    BOOST_TEST(tok->encode("ab", {}) == std::vector<std::uint32_t>{2},
               boost::test_tools::per_element());
    BOOST_TEST(tok->encode("ba", {}) == (std::vector<std::uint32_t>{3, 4}),
               boost::test_tools::per_element());
    std::filesystem::remove_all(tmp);
}

// ---- decoding and stop strings --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(stream_decoder_never_splits_a_character_and_matches_decode) {
    auto tok = pm::hf_tokenizer::load(fixture("tiny-llama"));
    const std::string text = "Grüße 👨‍👩‍👧 数据 ok";
    auto ids = tok->encode(text, {});
    pm::hf_tokenizer::stream_decoder d(*tok, {});
    std::string cat;
    for (auto id : ids) {
        auto piece = d.push(id);
        // Each chunk is whole UTF-8: it decodes on its own to the same bytes.
        std::string again;
        polyglot::model::unicode::append_lossy_utf8(again, piece);
        BOOST_TEST(again == std::string(piece));
        cat.append(piece);
    }
    cat += d.finish();
    BOOST_TEST(cat == text);
    BOOST_TEST(tok->decode(ids) == text);
}

BOOST_AUTO_TEST_CASE(stop_string_spanning_two_tokens_stops_at_the_right_place) {
    auto tok = pm::hf_tokenizer::load(fixture("tiny-llama"));
    const std::string text = "The quick brown fox jumps over the lazy dog. Then it sleeps.";
    auto ids = tok->encode(text, {});
    // Token boundaries in the text: pick a stop string across the boundary after token 3.
    std::vector<std::size_t> ends;
    {
        pm::hf_tokenizer::stream_decoder d(*tok, {});
        std::size_t at = 0;
        for (auto id : ids) ends.push_back(at += d.push(id).size());
    }
    BOOST_REQUIRE(ends.size() > 6);
    const std::size_t cut = ends[3];
    const std::string stop = text.substr(cut - 2, 4);  // 2 bytes of each side
    const std::vector<std::string> stops = {"zzz", stop};
    pm::stop_strings set(stops);
    pm::stop_matcher m(set);
    pm::hf_tokenizer::stream_decoder d(*tok, {});
    std::string emitted;
    bool stopped = false;
    for (auto id : ids) {
        auto r = m.feed(d.push(id));
        emitted.append(r.safe);
        if (r.stopped) {
            stopped = true;
            BOOST_TEST(r.which == 1u);
            break;
        }
    }
    BOOST_TEST(stopped);
    const std::string want = text.substr(0, text.find(stop));  // independent: plain find
    BOOST_TEST(emitted == want);
    BOOST_TEST(m.text() == want);
}

BOOST_AUTO_TEST_CASE(a_thousand_stop_strings_report_the_earliest_match) {
    // Brute force (std::string::find per stop string) is the oracle for the automaton.
    std::vector<std::string> stops;
    std::uint64_t x = 12345;
    auto rnd = [&] { return x = x * 6364136223846793005ull + 1442695040888963407ull; };
    for (int i = 0; i < 1000; ++i) {
        std::string s;
        const int len = 2 + int(rnd() >> 60) % 6;
        for (int k = 0; k < len; ++k) s += char('a' + (rnd() >> 59) % 6);
        stops.push_back(s);
    }
    pm::stop_strings set(stops);
    for (int trial = 0; trial < 50; ++trial) {
        std::string text;
        for (int k = 0; k < 60; ++k) text += char('a' + (rnd() >> 59) % 7);  // 'g' never in a stop
        std::size_t best_end = std::string::npos, best_len = 0;
        for (const auto& s : stops) {
            const auto p = text.find(s);
            if (p == std::string::npos) continue;
            const std::size_t e = p + s.size();
            if (e < best_end || (e == best_end && s.size() > best_len))
                best_end = e, best_len = s.size();
        }
        pm::stop_matcher m(set);
        std::string emitted;
        bool stopped = false;
        for (std::size_t i = 0; i < text.size() && !stopped; i += 3) {
            auto r = m.feed(std::string_view(text).substr(i, 3));
            emitted.append(r.safe);
            stopped = r.stopped;
        }
        if (!stopped) emitted.append(m.flush());
        if (best_end == std::string::npos) {
            BOOST_TEST(!stopped);
            BOOST_TEST(emitted == text);
        } else {
            BOOST_TEST(stopped);
            BOOST_TEST(emitted == text.substr(0, best_end - best_len));
        }
    }
}
