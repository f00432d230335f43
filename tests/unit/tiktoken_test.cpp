// SPDX-License-Identifier: Apache-2.0
// text::tiktoken_tokenizer: exact parity with npm tiktoken@1.0.22 `encode_ordinary` on every
// row of the shared fixtures and on tests/data/tiktoken/edge_cases.jsonl (white space, \r\n,
// digits, contractions, emoji/ZWJ, combining marks, CJK, RTL, 100k-code-point pieces), the
// binary cache, error paths, and `polyglot tokenize` end to end.
#define BOOST_TEST_MODULE tiktoken
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/text/tiktoken.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <polyglot/text/unicode.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/require_asset.hpp"

namespace fs = std::filesystem;
using polyglot::text::tiktoken_tokenizer;
using polyglot::text::token_id;

namespace {

// ---- a tiny JSON reader: just enough for the fixture rows ------------------------------------

struct row {
    std::string encoding, text, unit, fnv;
    std::vector<token_id> ids;
    bool has_ids = false;
    std::size_t repeat = 0, count = 0;
};

struct json_reader {
    std::string_view s;
    std::size_t i = 0;
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    }
    void expect(char c) {
        ws();
        if (i >= s.size() || s[i] != c)
            throw std::runtime_error(std::string("JSON: expected '") + c + "' at " +
                                     std::to_string(i));
        ++i;
    }
    std::uint32_t hex4() {
        if (i + 4 > s.size()) throw std::runtime_error("JSON: short \\u escape");
        std::uint32_t v =
            static_cast<std::uint32_t>(std::stoul(std::string(s.substr(i, 4)), nullptr, 16));
        i += 4;
        return v;
    }
    std::string str() {
        expect('"');
        std::string out;
        while (i < s.size() && s[i] != '"') {
            char c = s[i++];
            if (c != '\\') {
                out += c;
                continue;
            }
            c = s[i++];
            switch (c) {
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'u': {
                    std::uint32_t u = hex4();
                    if (u >= 0xD800 && u < 0xDC00 && i + 1 < s.size() && s[i] == '\\' &&
                        s[i + 1] == 'u') {
                        i += 2;
                        const std::uint32_t lo = hex4();
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    polyglot::text::append_utf8(out, u);
                    break;
                }
                default:
                    out += c;  // " \ /
            }
        }
        expect('"');
        return out;
    }
    std::uint64_t num() {
        ws();
        std::size_t j = i;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
        if (j == i) throw std::runtime_error("JSON: expected a number at " + std::to_string(i));
        const std::uint64_t v = std::stoull(std::string(s.substr(i, j - i)));
        i = j;
        return v;
    }
};

row parse_row(std::string_view line) {
    json_reader r{line};
    row out;
    r.expect('{');
    for (;;) {
        const std::string key = r.str();
        r.expect(':');
        if (key == "ids") {
            out.has_ids = true;
            r.expect('[');
            r.ws();
            if (r.s[r.i] == ']') {
                ++r.i;
            } else {
                for (;;) {
                    out.ids.push_back(static_cast<token_id>(r.num()));
                    r.ws();
                    if (r.s[r.i++] == ']') break;
                }
            }
        } else if (key == "repeat") {
            out.repeat = r.num();
        } else if (key == "count") {
            out.count = r.num();
        } else {
            std::string v = r.str();
            if (key == "text") out.text = std::move(v);
            if (key == "encoding") out.encoding = std::move(v);
            if (key == "unit") out.unit = std::move(v);
            if (key == "fnv") out.fnv = std::move(v);
        }
        r.ws();
        if (r.s[r.i++] == '}') break;
    }
    return out;
}

std::vector<row> read_rows(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + p.string() +
                                 " (run the tests from the project root with ../shared present)");
    std::vector<row> rows;
    std::string line;
    std::size_t no = 0;
    while (std::getline(in, line)) {
        ++no;
        if (line.empty()) continue;
        try {
            rows.push_back(parse_row(line));
        } catch (const std::exception& e) {
            throw std::runtime_error(p.string() + ":" + std::to_string(no) + ": " + e.what());
        }
    }
    return rows;
}

std::string fnv_hex(const std::vector<token_id>& ids) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (token_id id : ids)
        for (int k = 0; k < 4; ++k) {
            h ^= (id >> (8 * k)) & 0xff;
            h *= 0x100000001b3ull;
        }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

/// A tiktoken table from the data directory (scripts/bootstrap fetches it).
std::shared_ptr<const polyglot::text::tokenizer> open(const std::string& name) {
    polyglot::testing::require_data_asset(name + ".json");
    return polyglot::text::open_tokenizer(name);
}

const tiktoken_tokenizer& as_tiktoken(const polyglot::text::tokenizer& t) {
    return dynamic_cast<const tiktoken_tokenizer&>(t);
}

std::string show(const std::vector<token_id>& ids) {
    std::ostringstream o;
    for (std::size_t k = 0; k < ids.size(); ++k) o << (k ? "," : "") << ids[k];
    return o.str();
}

/// Checks ids, count(), split() consistency and decode(encode(x)) == x for one text.
void check_text(const tiktoken_tokenizer& tok, const std::string& text,
                const std::vector<token_id>& expected, const std::string& where) {
    std::vector<token_id> ids;
    tok.encode(text, ids);
    BOOST_TEST_INFO(where << " text=" << text.substr(0, 80));
    BOOST_TEST(show(ids) == show(expected));
    BOOST_TEST(tok.count(text) == expected.size());
    BOOST_TEST(tok.decode(ids) == text);
    std::vector<std::string_view> pieces;
    tok.split(text, pieces);
    std::string joined;
    for (auto p : pieces) {
        BOOST_TEST(!p.empty());
        joined += p;
    }
    BOOST_TEST(joined == text);
}

void fixture_parity(const std::string& name) {
    const fs::path path =
        polyglot::testing::require_shared("fixtures/tokenizers/" + name + ".jsonl");
    auto t = open(name);
    const auto& tok = as_tiktoken(*t);
    BOOST_TEST(tok.name() == "tiktoken:" + name);
    const auto rows = read_rows(path);
    BOOST_TEST_REQUIRE(rows.size() >= 400u);
    std::size_t no = 0;
    for (const auto& r : rows) {
        ++no;
        BOOST_TEST_REQUIRE(r.has_ids);
        check_text(tok, r.text, r.ids, path.string() + ":" + std::to_string(no));
    }
}

fs::path temp_dir(const std::string& tag) {
    auto d =
        fs::temp_directory_path() / ("polyglot-tiktoken-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

std::string run_capture(const std::string& cmd, int& rc) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) {
        rc = -1;
        return out;
    }
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    rc = ::pclose(f);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cl100k_fixture_parity) { fixture_parity("cl100k_base"); }
BOOST_AUTO_TEST_CASE(o200k_fixture_parity) { fixture_parity("o200k_base"); }

BOOST_AUTO_TEST_CASE(edge_cases_parity) {
    const auto rows = read_rows("tests/data/tiktoken/edge_cases.jsonl");
    BOOST_TEST_REQUIRE(rows.size() >= 150u);
    std::size_t no = 0, long_rows = 0;
    for (const auto& r : rows) {
        ++no;
        const auto holder = open(r.encoding);
        const auto& tok = as_tiktoken(*holder);
        const std::string where = "edge_cases.jsonl:" + std::to_string(no);
        if (r.has_ids) {
            check_text(tok, r.text, r.ids, where);
            continue;
        }
        ++long_rows;
        std::string text;
        text.reserve(r.unit.size() * r.repeat);
        for (std::size_t k = 0; k < r.repeat; ++k) text += r.unit;
        std::vector<token_id> ids;
        tok.encode(text, ids);
        BOOST_TEST_INFO(where << " unit='" << r.unit << "' x " << r.repeat);
        BOOST_TEST(ids.size() == r.count);
        BOOST_TEST(fnv_hex(ids) == r.fnv);
        BOOST_TEST(tok.count(text) == r.count);
        BOOST_TEST(tok.decode(ids) == text);
        // Their speed (tiktoken's own merge loop is quadratic here: minutes in Node) is measured
        // in benchmarks/bench_tokenizer.cpp (BM_long_piece_*), not asserted here.
    }
    BOOST_TEST(long_rows >= 20u);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_never_fails) {
    const auto holder = open("cl100k_base");
    const auto& tok = as_tiktoken(*holder);
    const std::string bad[] = {std::string("\xff\xfe abc", 6),
                               "a\xc3",
                               "\xe2\x82",
                               "\xed\xa0\x80 x",
                               "\xf4\x90\x80\x80",
                               "ok \xc0\xaf end",
                               std::string("\0\x80", 2)};
    for (const auto& s : bad) {
        std::vector<token_id> ids;
        tok.encode(s, ids);
        BOOST_TEST(tok.decode(ids) == s);
        BOOST_TEST(tok.count(s) == ids.size());
    }
}

BOOST_AUTO_TEST_CASE(thread_safety_same_ids) {
    const auto holder = open("o200k_base");
    const auto& tok = as_tiktoken(*holder);
    const std::string text =
        "Multilingual: Grüße, мир, 世界, مرحبا, 👍🏽 — don't stop. 12345 \r\n\t end "
        " "
        " ";
    std::vector<token_id> ref;
    tok.encode(text, ref);
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int k = 0; k < 4; ++k)
        threads.emplace_back([&, k] {
            int good = 1;
            for (int it = 0; it < 2000; ++it) {
                std::vector<token_id> ids;
                tok.encode(text, ids);
                good &= ids == ref;
            }
            ok[k] = good;
        });
    for (auto& t : threads) t.join();
    for (int v : ok) BOOST_TEST(v == 1);
}

BOOST_AUTO_TEST_CASE(binary_cache_roundtrip) {
    const fs::path dir = temp_dir("cache");
    // Copy the data-dir JSON so the cache is written into our own directory.
    const auto original = polyglot::resolve_asset("cl100k_base.json");
    fs::copy_file(original, dir / "cl100k_base.json");
    const fs::path cache = tiktoken_tokenizer::cache_path(dir / "cl100k_base.json");
    BOOST_TEST(cache.filename() == "cl100k_base.tiktoken.bin");
    auto a = tiktoken_tokenizer::open(dir / "cl100k_base.json");  // builds + writes the cache
    BOOST_TEST_REQUIRE(fs::exists(cache));
    auto b = tiktoken_tokenizer::open(dir / "cl100k_base.json");  // loads the cache
    auto c = tiktoken_tokenizer::open(cache);                     // the binary itself
    BOOST_TEST(b->serialize() == a->serialize());
    BOOST_TEST(c->name() == "tiktoken:cl100k_base");
    const std::string text = "Hello, wörld! 你好 🙂 it's 2024";
    std::vector<token_id> ia, ic;
    a->encode(text, ia);
    c->encode(text, ic);
    BOOST_TEST(show(ia) == show(ic));
    BOOST_TEST(a->vocab_size() == 100256u);

    // A damaged cache is rebuilt; a damaged binary opened directly is a format_error.
    std::string bytes = polyglot::io::read_file(cache);
    bytes[bytes.size() / 2] ^= 0x5a;
    polyglot::io::write_file_atomic(cache, bytes);
    BOOST_CHECK_THROW(tiktoken_tokenizer::open(cache), polyglot::format_error);
    auto d = tiktoken_tokenizer::open(dir / "cl100k_base.json");
    BOOST_TEST(d->serialize() == a->serialize());
    BOOST_TEST(polyglot::io::read_file(cache) == std::string(a->serialize()));
    polyglot::io::write_file_atomic(cache, bytes.substr(0, 1000));
    BOOST_CHECK_THROW(tiktoken_tokenizer::open(cache), polyglot::format_error);
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(bad_tables_are_clear_errors) {
    using polyglot::text::open_tokenizer;
    BOOST_CHECK_THROW(tiktoken_tokenizer::from_json("{not json", "x", "x.json"),
                      polyglot::format_error);
    BOOST_CHECK_THROW(tiktoken_tokenizer::from_json(R"({"model":{}})", "x", "x.json"),
                      polyglot::format_error);
    BOOST_CHECK_THROW(tiktoken_tokenizer::from_json(R"({"pat_str":"\\s+","bpe_ranks":"! 0 IQ=="})",
                                                    "x", "x.json"),
                      polyglot::unsupported_error);
    try {
        tiktoken_tokenizer::from_json(R"({"pat_str":"x","bpe_ranks":"IQ== 0"})", "x",
                                      "/tmp/t.json");
        BOOST_FAIL("no throw");
    } catch (const polyglot::error& e) {
        BOOST_TEST(std::string(e.what()).find("/tmp/t.json") != std::string::npos);
    }
    BOOST_CHECK_THROW(open_tokenizer("no_such_table"), polyglot::argument_error);
    BOOST_CHECK_THROW(open_tokenizer("/nonexistent/dir/x.json"), polyglot::io_error);
    // A Hugging Face path goes to the HF branch (io_error when missing, or unsupported_error in
    // builds without it), never to the tiktoken loader.
    BOOST_CHECK_THROW(open_tokenizer("/nonexistent/model/tokenizer.json"), polyglot::error);
    // Same spec twice: the loaded tables are shared.
    BOOST_TEST(open_tokenizer("cl100k_base").get() == open_tokenizer("cl100k_base").get());
}

BOOST_AUTO_TEST_CASE(cli_tokenize_end_to_end) {
    const std::string cli = polyglot::testing::require_cli();
    const fs::path dir = temp_dir("cli");
    const fs::path in = dir / "in.txt";
    // Lines: a normal one, an empty one, one with '\r' kept, invalid UTF-8, no final newline.
    const std::string content =
        std::string("Hello world\n\nCRLF line\r\nbad \xff byte\n") + "last 👍🏽 line";
    polyglot::io::write_file_atomic(in, content);
    const auto holder = open("o200k_base");
    const auto& tok = as_tiktoken(*holder);
    auto ids = [&](const std::string& s) {
        std::vector<token_id> v;
        tok.encode(s, v);
        std::string r = "[";
        r += show(v);
        r += ']';
        return r;
    };
    const std::string expected = ids("Hello world") + "\n[]\n" + ids("CRLF line\r") + "\nnull\n" +
                                 ids("last 👍🏽 line") + "\n";
    for (const char* threads : {"1", "2"}) {
        int rc = 0;
        const std::string out =
            run_capture(cli + " tokenize --tokenizer o200k_base --threads " + threads + " " +
                            in.string() + " 2>" + (dir / "err.txt").string(),
                        rc);
        BOOST_TEST(rc == 0);
        BOOST_TEST(out == expected);
        const std::string err = polyglot::io::read_file(dir / "err.txt");
        BOOST_TEST(err.find(":4:") != std::string::npos, "stderr: " << err);
    }
    // --count, from stdin, many lines in parallel: order is preserved.
    std::string many;
    std::string expected_counts;
    for (int k = 0; k < 5000; ++k) {
        const std::string line = "line " + std::to_string(k) + std::string(k % 7, '!') + " Grüße";
        many += line + "\n";
        expected_counts += std::to_string(tok.count(line)) + "\n";
    }
    polyglot::io::write_file_atomic(dir / "many.txt", many);
    int rc = 0;
    const std::string counts = run_capture(
        cli + " tokenize -t o200k_base --count --threads 2 - < " + (dir / "many.txt").string(), rc);
    BOOST_TEST(rc == 0);
    BOOST_TEST(counts == expected_counts);
    // A bad tokenizer name is a usage error (exit 2 from the shell's view: rc >> 8).
    run_capture(cli + " tokenize -t nope " + in.string() + " 2>/dev/null", rc);
    BOOST_TEST((rc >> 8) == 2);
    fs::remove_all(dir);
}
