// SPDX-License-Identifier: Apache-2.0
// Hugging Face tokenizer.json: ids must equal what `tokenizers` produced for the fixtures.
#define BOOST_TEST_MODULE engine_tokenizer
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/text/hf_tokenizer.hpp>

#include "common/hf_tokenizer.hpp"
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
