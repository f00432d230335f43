// SPDX-License-Identifier: Apache-2.0
// model::hf_tokenizer against Hugging Face's Rust `tokenizers` 0.23.2 (its Node binding, the
// oracle: tests/oracles/hf_tokenizers_oracle.mjs) on a multilingual corpus of ~4,000 lines
// (tests/oracles/hf_tokenizer_corpus.py: .mo translations of 24 languages + edge cases), for the
// real tokenizers of Gemma 3, Gemma 2, Llama 3, Llama 3.1, Qwen3, Qwen2.5, DeepSeek V3, gpt-oss,
// Mistral Nemo, a WordPiece (bert-base-uncased) and a Unigram (ALBERT 30k-clean) tokenizer, these
// two with a UnicodeScripts pre-tokenizer (alone, in sentencepiece's WhitespaceSplit +
// UnicodeScripts + Metaspace, before Metaspace with prepend_scheme "first", after Whitespace), and
// the fixture models' tokenizers. Per line: ids with add_special_tokens false / true and with
// special tokens not recognised; decode with and without skip_special_tokens; the stream decoder's
// concatenation; decode(encode(text)). And the UnicodeScripts Script table against ICU's on every
// code point.
//
// Assets come from scripts/fetch-test-assets; a missing one fails the test, naming the script.
// The oracle's output is cached in the data dir, keyed by a hash of everything it depends on.
#define BOOST_TEST_MODULE hf_tokenizer_oracle
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <polyglot/core/paths.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "base/json/util.hpp"
#include "base/tokenizers/hf/tables.hpp"
#include "base/unicode/unicode.hpp"

namespace fs = std::filesystem;
namespace pm = polyglot::model;
using pm::token_id;

namespace {

const char* fetch_hint =
    "run scripts/fetch-test-assets (it fetches the tokenizers and installs "
    "the Rust `tokenizers` oracle)";

struct tokenizer_case {
    std::string name;
    fs::path file;
    bool fixture;
};

std::vector<tokenizer_case> cases() {
    std::vector<tokenizer_case> out;
    const fs::path assets = polyglot::data_dir() / "test-assets";
    for (const char* n :
         {"gemma3", "gemma2", "llama3", "llama3_1", "qwen3", "qwen2_5", "deepseek_v3", "gptoss",
          "mistral_nemo", "bert_base_uncased", "albert_unigram", "albert_unigram_scripts",
          "albert_unigram_scripts_spm", "albert_unigram_scripts_first", "bert_scripts_words"})
        out.push_back({n, assets / n / "tokenizer.json", false});
    for (const char* n :
         {"tiny-llama", "tiny-llama-bf16", "tiny-qwen3", "tiny-gemma3", "tiny-embeddinggemma"})
        out.push_back({n, fs::path("../shared/fixtures/models") / n / "tokenizer.json", true});
    return out;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct row {
    std::vector<token_id> ids, ids_special, ids_plain;
    std::string dec, dec_skip, dec_plain;
};

struct oracle_data {
    std::vector<std::string> texts;  ///< raw bytes of each corpus line
    std::map<std::string, std::vector<row>> rows;
    std::string error;
};

std::vector<token_id> ids_of(simdjson::dom::element e) {
    std::vector<token_id> out;
    simdjson::dom::array arr = e.get_array();
    for (auto x : arr) out.push_back(token_id(std::uint64_t(x.get_uint64())));
    return out;
}

std::string hex_decode(std::string_view h) {
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        out += char(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
    return out;
}

oracle_data build_oracle() {
    oracle_data d;
    const fs::path assets = polyglot::data_dir() / "test-assets";
    const fs::path node_modules = assets / "node" / "node_modules";
    if (!fs::exists(node_modules / "tokenizers" / "index.js")) {
        d.error =
            "the Rust tokenizers oracle is missing (" + node_modules.string() + "): " + fetch_hint;
        return d;
    }
    for (const auto& c : cases())
        if (!fs::exists(c.file)) {
            d.error = "tokenizer " + c.file.string() + " is missing: " +
                      (c.fixture ? "run from the project root with ../shared present" : fetch_hint);
            return d;
        }
    const fs::path tmp =
        fs::temp_directory_path() / ("polyglot_hf_oracle_" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    const fs::path corpus = tmp / "corpus.jsonl";
    std::string cmd =
        "/usr/bin/python3 tests/oracles/hf_tokenizer_corpus.py '" + corpus.string() + "'";
    if (std::system(cmd.c_str()) != 0) {
        d.error = "tests/oracles/hf_tokenizer_corpus.py failed (are the .mo translations there?)";
        return d;
    }
    // Cache key: corpus, oracle driver, and each tokenizer file's bytes.
    std::uint64_t key = 0x1234;
    auto mix = [&](const std::string& s) {
        key = pm::detail::mix64(key ^ pm::detail::hash_bytes(s.data(), s.size()));
    };
    mix(read_file(corpus));
    mix(read_file("tests/oracles/hf_tokenizers_oracle.mjs"));
    mix(read_file(node_modules / "tokenizers" / ".version"));
    std::string specs;
    for (const auto& c : cases()) {
        mix(c.name);
        mix(read_file(c.file));
        specs += " '" + c.name + "=" + fs::absolute(c.file).string() + "'";
    }
    char hex[32];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key));
    const fs::path cache_dir = assets / "oracle-cache";
    fs::create_directories(cache_dir);
    const fs::path cached = cache_dir / (std::string("hf_tokenizers-") + hex + ".jsonl");
    if (!fs::exists(cached)) {
        const fs::path out = cache_dir / (std::string("hf_tokenizers-") + hex + ".tmp");
        cmd = "node tests/oracles/hf_tokenizers_oracle.mjs '" + node_modules.string() + "' '" +
              corpus.string() + "' '" + out.string() + "'" + specs;
        if (std::system(cmd.c_str()) != 0) {
            d.error = "the oracle (node tests/oracles/hf_tokenizers_oracle.mjs) failed";
            return d;
        }
        fs::rename(out, cached);
        // Keep only the current oracle output (its inputs changed: the older ones are stale).
        for (const auto& e : fs::directory_iterator(cache_dir))
            if (e.path() != cached && e.path().filename().string().rfind("hf_tokenizers-", 0) == 0)
                fs::remove(e.path());
    }
    {
        std::ifstream in(corpus);
        std::string line;
        simdjson::dom::parser p;
        while (std::getline(in, line)) {
            simdjson::dom::element e = p.parse(line);
            std::string_view v;
            if (!e["hex"].get_string().get(v))
                d.texts.push_back(hex_decode(v));
            else
                d.texts.emplace_back(std::string_view(e["text"].get_string()));
        }
    }
    std::ifstream in(cached);
    std::string line;
    simdjson::dom::parser p;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        simdjson::dom::element e = p.parse(line);
        row r;
        r.ids = ids_of(e["ids"]);
        r.ids_special = ids_of(e["ids_special"]);
        r.ids_plain = ids_of(e["ids_plain"]);
        r.dec = std::string(std::string_view(e["dec"].get_string()));
        r.dec_skip = std::string(std::string_view(e["dec_skip"].get_string()));
        r.dec_plain = std::string(std::string_view(e["dec_plain"].get_string()));
        d.rows[std::string(std::string_view(e["tok"].get_string()))].push_back(std::move(r));
    }
    fs::remove_all(tmp);
    return d;
}

const oracle_data& oracle() {
    static const oracle_data d = build_oracle();
    if (!d.error.empty()) BOOST_FAIL(d.error);
    return d;
}

std::string show(const std::vector<token_id>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < 40; ++i) s += std::to_string(v[i]) + " ";
    return s + (v.size() > 40 ? "..." : "");
}

/// Compares every line; reports the first few mismatches of each kind in full.
void check(const std::string& name, bool expect_roundtrip) {
    const auto& d = oracle();
    const tokenizer_case* tc = nullptr;
    static const auto all = cases();
    for (const auto& c : all)
        if (c.name == name) tc = &c;
    BOOST_REQUIRE(tc);
    auto it = d.rows.find(name);
    BOOST_REQUIRE_MESSAGE(it != d.rows.end(), "no oracle rows for " << name);
    const auto& rows = it->second;
    BOOST_REQUIRE_EQUAL(rows.size(), d.texts.size());
    auto tok = pm::hf_tokenizer::load(tc->file);
    const icu::Normalizer2* nfc = nullptr;
    {
        UErrorCode st = U_ZERO_ERROR;
        nfc = icu::Normalizer2::getNFCInstance(st);
    }
    std::map<std::string, int> bad;
    auto fail = [&](const char* what, std::size_t line, const std::string& detail) {
        if (++bad[what] <= 3)
            BOOST_ERROR(name << " line " << line << " " << what << ": " << detail);
    };
    std::size_t lossy = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const std::string& text = d.texts[i];
        const row& r = rows[i];
        std::string clean;
        pm::unicode::append_lossy_utf8(clean, text);
        auto a = tok->encode(text, {.add_special_tokens = false});
        if (a != r.ids)
            fail("ids", i,
                 "got " + show(a) + "want " + show(r.ids) + " text '" + clean.substr(0, 80) + "'");
        auto b = tok->encode(text, {.add_special_tokens = true});
        if (b != r.ids_special)
            fail("ids+special", i, "got " + show(b) + "want " + show(r.ids_special));
        auto c = tok->encode(text, {.add_special_tokens = false, .parse_special = false});
        if (c != r.ids_plain)
            fail("ids parse_special=false", i, "got " + show(c) + "want " + show(r.ids_plain));
        const std::string dec = tok->decode(r.ids_special);
        if (dec != r.dec)
            fail("decode", i, "got '" + dec.substr(0, 80) + "' want '" + r.dec.substr(0, 80) + "'");
        const std::string dec_skip = tok->decode(r.ids_special, {.skip_special_tokens = true});
        if (dec_skip != r.dec_skip)
            fail("decode skip_special", i,
                 "got '" + dec_skip.substr(0, 80) + "' want '" + r.dec_skip.substr(0, 80) + "'");
        for (bool skip : {false, true}) {
            pm::hf_tokenizer::stream_decoder sd(*tok, {.skip_special_tokens = skip});
            std::string cat;
            for (token_id id : r.ids_special) {
                const std::string_view piece = sd.push(id);
                if (!pm::unicode::valid_utf8(piece)) fail("stream emits half a character", i, "");
                cat.append(piece);
            }
            cat += sd.finish();
            if (cat != (skip ? r.dec_skip : r.dec))
                fail("stream concatenation", i, "got '" + cat.substr(0, 80) + "'");
        }
        // decode(encode(text)) == text (what the library itself gives back where it is lossy).
        const std::string rt = tok->decode(a);
        if (rt != r.dec_plain)
            fail("roundtrip vs oracle", i,
                 "got '" + rt.substr(0, 80) + "' want '" + r.dec_plain.substr(0, 80) + "'");
        if (rt != clean) {
            ++lossy;
            if (expect_roundtrip) {
                // Only two lossy cases are expected: ▁ in the input (Metaspace-style tokenizers
                // give it back as a space) and text that NFC changes (Qwen's normalizer).
                UErrorCode st = U_ZERO_ERROR;
                const bool is_nfc = nfc->isNormalizedUTF8(clean, st);
                if (clean.find("\xE2\x96\x81") == std::string::npos && is_nfc)
                    fail("decode(encode(text)) != text", i,
                         "got '" + rt.substr(0, 80) + "' text '" + clean.substr(0, 80) + "'");
            }
        }
    }
    BOOST_TEST_MESSAGE(name << ": " << rows.size() << " lines, " << lossy << " not round-tripped");
    for (const auto& [what, n] : bad) BOOST_ERROR(name << ": " << n << " lines differ in " << what);
}

}  // namespace

BOOST_AUTO_TEST_CASE(corpus_is_large_and_multilingual) {
    BOOST_TEST(oracle().texts.size() >= 3000u);
}

BOOST_AUTO_TEST_CASE(gemma3) { check("gemma3", true); }
BOOST_AUTO_TEST_CASE(gemma2) { check("gemma2", true); }
BOOST_AUTO_TEST_CASE(llama3) { check("llama3", true); }
BOOST_AUTO_TEST_CASE(llama3_1) { check("llama3_1", true); }
BOOST_AUTO_TEST_CASE(qwen3) { check("qwen3", true); }
BOOST_AUTO_TEST_CASE(qwen2_5) { check("qwen2_5", true); }
BOOST_AUTO_TEST_CASE(deepseek_v3) { check("deepseek_v3", true); }
BOOST_AUTO_TEST_CASE(gptoss) { check("gptoss", true); }
BOOST_AUTO_TEST_CASE(mistral_nemo) { check("mistral_nemo", true); }
BOOST_AUTO_TEST_CASE(wordpiece_bert_base_uncased) { check("bert_base_uncased", false); }
BOOST_AUTO_TEST_CASE(unigram_albert_precompiled_charsmap) { check("albert_unigram", false); }
BOOST_AUTO_TEST_CASE(unigram_unicode_scripts) { check("albert_unigram_scripts", false); }
BOOST_AUTO_TEST_CASE(unigram_whitespace_unicode_scripts_metaspace) {
    check("albert_unigram_scripts_spm", false);
}
BOOST_AUTO_TEST_CASE(unigram_unicode_scripts_metaspace_first) {
    check("albert_unigram_scripts_first", false);
}
BOOST_AUTO_TEST_CASE(wordpiece_whitespace_unicode_scripts) { check("bert_scripts_words", false); }
BOOST_AUTO_TEST_CASE(fixture_tiny_llama) { check("tiny-llama", true); }
BOOST_AUTO_TEST_CASE(fixture_tiny_llama_bf16) { check("tiny-llama-bf16", true); }
BOOST_AUTO_TEST_CASE(fixture_tiny_qwen3) { check("tiny-qwen3", true); }
BOOST_AUTO_TEST_CASE(fixture_tiny_gemma3) { check("tiny-gemma3", true); }
BOOST_AUTO_TEST_CASE(fixture_tiny_embeddinggemma) { check("tiny-embeddinggemma", true); }

// The UnicodeScripts table (Unicode 9.0, as `tokenizers` has it) against ICU's data on every code
// point: a code point Unicode 9.0 had has ICU's script (ICU 72: Unicode 15.0), a later one none,
// except the four that Unicode moved to another script after 9.0 (Scripts.txt 10.0+).
BOOST_AUTO_TEST_CASE(script_table_is_unicode_9_by_icu) {
    int checked = 0, bad = 0;
    for (char32_t c = 0; c < 0x110000; ++c) {
        UVersionInfo age;
        u_charAge(UChar32(c), age);
        const bool in_9 = age[0] < 9 || (age[0] == 9 && age[1] == 0);
        UErrorCode st = U_ZERO_ERROR;
        std::string want = in_9 ? uscript_getName(uscript_getScript(UChar32(c), &st)) : "Unknown";
        BOOST_REQUIRE(U_SUCCESS(st));
        if (c == 0x0589 || c == 0x061C) want = "Common";      // later Armenian / Arabic
        if (c == 0x0953 || c == 0x0954) want = "Devanagari";  // later Inherited
        const std::string got = pm::unicode::script_names[pm::unicode::script_of(c)];
        ++checked;
        if (got != want && ++bad <= 5)
            BOOST_ERROR("U+" << std::hex << std::uint32_t(c) << std::dec << ": " << got << ", ICU "
                             << want);
    }
    BOOST_TEST(checked == 0x110000);
    BOOST_TEST(bad == 0);
}

// The stream decoder with the prompt as context: its output equals decode(prompt + generated)
// less decode(prompt) (vLLM's detokenizer), e.g. Metaspace's first-token rule does not strip the
// space of the first generated token, and a character split between prompt and generation is
// emitted whole. Checked on the oracle's ids split in the middle.
BOOST_AUTO_TEST_CASE(stream_decoder_with_prompt_context) {
    const auto& d = oracle();
    for (const char* name : {"albert_unigram", "gemma3", "llama3", "bert_base_uncased"}) {
        const tokenizer_case* tc = nullptr;
        static const auto all = cases();
        for (const auto& c : all)
            if (c.name == name) tc = &c;
        auto tok = pm::hf_tokenizer::load(tc->file);
        const auto& rows = d.rows.at(name);
        int checked = 0, bad = 0;
        for (const row& r : rows) {
            const auto& ids = r.ids;
            if (ids.size() < 2) continue;
            const std::size_t half = ids.size() / 2;
            const std::span<const token_id> prompt(ids.data(), half);
            const std::string all_text = tok->decode(ids), prompt_text = tok->decode(prompt);
            if (all_text.compare(0, prompt_text.size(), prompt_text) != 0) continue;
            pm::hf_tokenizer::stream_decoder sd(*tok, {}, prompt);
            std::string cat;
            for (std::size_t i = half; i < ids.size(); ++i) cat.append(sd.push(ids[i]));
            cat += sd.finish();
            ++checked;
            if (cat != all_text.substr(prompt_text.size()) && ++bad <= 3)
                BOOST_ERROR(name << ": got '" << cat.substr(0, 60) << "' want '"
                                 << all_text.substr(prompt_text.size(), 60) << "'");
        }
        BOOST_TEST(checked > 3000);
        BOOST_TEST(bad == 0);
    }
}
