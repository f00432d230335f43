// SPDX-License-Identifier: Apache-2.0
// JSONL ingest: every bad-input case of product.md §6, record shapes, chunking invariance.
#define BOOST_TEST_MODULE jsonl
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/io/jsonl.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace pg = polyglot;
namespace fs = std::filesystem;

namespace {

const fs::path data_dir = "tests/data";

struct temp_file {
    fs::path path;
    explicit temp_file(const std::string& content) {
        static int n = 0;
        path = fs::temp_directory_path() / ("polyglot_jsonl_test_" + std::to_string(::getpid()) +
                                            "_" + std::to_string(n++) + ".jsonl");
        std::ofstream(path, std::ios::binary) << content;
    }
    ~temp_file() { fs::remove(path); }
};

/// Reads a file chunk by chunk with the given options; flattens records and skips.
using flat =
    std::vector<std::tuple<std::uint64_t, std::string, std::string, std::string, std::string>>;
std::pair<flat, std::vector<std::pair<std::uint64_t, std::string>>> read_chunked(
    const fs::path& p, const pg::io::jsonl_options& o) {
    pg::io::line_reader reader(p.string(), 0, o);
    pg::io::line_chunk chunk;
    flat recs;
    std::vector<std::pair<std::uint64_t, std::string>> skips;
    while (reader.next(chunk)) {
        BOOST_TEST(chunk.lines.size() <= o.chunk_lines);
        pg::io::parsed_chunk pc;
        pg::io::parse_chunk(chunk, o, pc);
        for (const auto& r : pc.records)
            recs.emplace_back(r.line, std::string(r.prompt), std::string(r.response),
                              std::string(r.lang), std::string(r.id));
        for (const auto& s : pc.skips) skips.emplace_back(s.line, s.reason);
    }
    return {recs, skips};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(every_case_file) {
    std::ifstream idx(data_dir / "bad/cases.tsv");
    BOOST_REQUIRE_MESSAGE(idx, "tests/data/bad/cases.tsv missing (run from the project root)");
    std::string line;
    int n = 0;
    while (std::getline(idx, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string file, reason;
        std::uint64_t bad_line = 0;
        ls >> file >> bad_line >> reason;
        BOOST_TEST_CONTEXT(file) {
            auto pc = pg::io::read_all((data_dir / "bad" / file).string());
            const auto& skips = pc.skips;
            BOOST_TEST(pc.blank_lines.empty());
            BOOST_REQUIRE_EQUAL(skips.size(), 1u);
            BOOST_TEST(skips[0].line == bad_line);
            BOOST_TEST(skips[0].reason == reason);
            // Every other line is a valid record, in order, with its own line number.
            std::uint64_t expect = 1;
            for (const auto& r : pc.records) {
                if (expect == bad_line) ++expect;
                BOOST_TEST(r.line == expect);
                BOOST_TEST(r.prompt == "Hello " + std::to_string(expect));
                BOOST_TEST(r.lang == "de");
                ++expect;
            }
            BOOST_TEST(pc.records.size() >= 2u);
        }
        ++n;
    }
    BOOST_TEST(n >= 20);
}

BOOST_AUTO_TEST_CASE(huge_lines_are_streamed_past) {
    const std::string big(5000, 'x');
    const std::string good = R"({"prompt": "p", "response": "r"})";
    const std::string content = good + "\n" + R"({"prompt": ")" + big + R"(", "response": "r"})" +
                                "\n" + good + "\n" + big + big;  // last line: too long, no '\n'
    temp_file f(content);
    for (std::size_t block :
         {std::size_t{7}, std::size_t{64}, std::size_t{4096}, std::size_t{1} << 20}) {
        pg::io::jsonl_options o;
        o.max_line_bytes = 1000;
        o.read_block_bytes = block;
        o.chunk_lines = 2;
        auto [recs, skips] = read_chunked(f.path, o);
        BOOST_TEST_CONTEXT("block " << block) {
            BOOST_REQUIRE_EQUAL(recs.size(), 2u);
            BOOST_TEST(std::get<0>(recs[0]) == 1u);
            BOOST_TEST(std::get<0>(recs[1]) == 3u);
            BOOST_REQUIRE_EQUAL(skips.size(), 2u);
            BOOST_TEST(skips[0].first == 2u);
            BOOST_TEST(skips[0].second == "line_too_long");
            BOOST_TEST(skips[1].first == 4u);
            BOOST_TEST(skips[1].second == "line_too_long");
        }
    }
    // The default limit keeps such lines.
    auto all = pg::io::read_all(f.path.string());
    BOOST_TEST(all.records.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_crlf_line_of_exactly_the_limit_is_kept) {
    // 32 bytes + "\r\n" with max_line_bytes 32: the '\r' is not part of the line, whatever the
    // read block size (found by tests/fuzz/fuzz_jsonl.cpp: small blocks made it line_too_long).
    const std::string line = R"({"prompt": "p", "response": "r"})";
    BOOST_REQUIRE_EQUAL(line.size(), 32u);
    temp_file f(line + "\r\n" + line + "x\r\n" + line + "\r");
    for (std::size_t block : {1, 2, 7, 33, 34, 4096}) {
        pg::io::jsonl_options o;
        o.max_line_bytes = 32;
        o.read_block_bytes = block;
        auto [recs, skips] = read_chunked(f.path, o);
        BOOST_TEST_CONTEXT("block " << block) {
            BOOST_REQUIRE_EQUAL(recs.size(), 2u);
            BOOST_TEST(std::get<0>(recs[0]) == 1u);
            BOOST_TEST(std::get<0>(recs[1]) == 3u);  // last line: no '\n', its '\r' stripped
            BOOST_REQUIRE_EQUAL(skips.size(), 1u);
            BOOST_TEST(skips[0].first == 2u);  // 33 bytes before the '\r'
            BOOST_TEST(skips[0].second == "line_too_long");
        }
    }
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_path) {
    try {
        pg::io::read_all("tests/data/score/does-not-exist.jsonl");
        BOOST_FAIL("expected io_error");
    } catch (const pg::io_error& e) {
        BOOST_TEST(std::string(e.what()).find("does-not-exist.jsonl") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(valid_shapes)

BOOST_AUTO_TEST_CASE(bom_is_stripped) {
    auto pc = pg::io::read_all((data_dir / "score/bom.jsonl").string());
    BOOST_TEST(pc.skips.empty());
    BOOST_REQUIRE_EQUAL(pc.records.size(), 2u);
    BOOST_TEST(pc.records[0].id == "g1");
    // Whatever the read block size: the BOM's bytes may arrive over several reads (found by
    // tests/fuzz/fuzz_jsonl.cpp: with 1-byte blocks line 1 was malformed_json).
    for (std::size_t block : {1, 2, 3, 4}) {
        pg::io::jsonl_options o;
        o.read_block_bytes = block;
        o.chunk_lines = 1;
        auto [recs, skips] = read_chunked(data_dir / "score/bom.jsonl", o);
        BOOST_TEST(skips.empty(), "block " << block);
        BOOST_REQUIRE_EQUAL(recs.size(), 2u);
        BOOST_TEST(std::get<4>(recs[0]) == "g1", "block " << block);
    }
    // A file holding only a BOM has no lines.
    temp_file only_bom("\xEF\xBB\xBF");
    auto empty = pg::io::read_all(only_bom.path.string());
    BOOST_TEST(empty.records.empty());
    BOOST_TEST(empty.skips.empty());
    BOOST_TEST(empty.blank_lines.empty());
}

BOOST_AUTO_TEST_CASE(crlf_is_stripped) {
    auto pc = pg::io::read_all((data_dir / "score/crlf.jsonl").string());
    BOOST_TEST(pc.skips.empty());
    BOOST_REQUIRE_EQUAL(pc.records.size(), 3u);
    BOOST_TEST(pc.records[2].response == "Hallo 3");
    BOOST_TEST(pc.records[2].line == 3u);
}

BOOST_AUTO_TEST_CASE(blank_lines_are_counted_not_records) {
    auto pc = pg::io::read_all((data_dir / "score/blank_lines.jsonl").string());
    BOOST_REQUIRE_EQUAL(pc.records.size(), 2u);
    BOOST_TEST(pc.records[0].line == 2u);
    BOOST_TEST(pc.records[1].line == 5u);
    // Empty, white-space-only and tab-only lines: not records and not bad records.
    BOOST_TEST(pc.skips.empty());
    BOOST_TEST(pc.blank_lines == std::vector<std::uint64_t>({1, 3, 4, 6}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_strings_are_valid) {
    auto pc = pg::io::read_all((data_dir / "score/empty_strings.jsonl").string());
    BOOST_TEST(pc.skips.empty());
    BOOST_REQUIRE_EQUAL(pc.records.size(), 2u);
    BOOST_TEST(pc.records[0].prompt.empty());
    BOOST_TEST(pc.records[0].response.empty());
    BOOST_TEST(pc.records[1].prompt == "a");
}

BOOST_AUTO_TEST_CASE(messages_lists) {
    auto pc = pg::io::read_all((data_dir / "score/messages.jsonl").string());
    BOOST_TEST(pc.skips.empty());
    BOOST_REQUIRE_EQUAL(pc.records.size(), 2u);
    // First user turn, and the first assistant turn after it (other roles in between).
    BOOST_TEST(pc.records[0].prompt == "Q1");
    BOOST_TEST(pc.records[0].response == "A1");
    BOOST_TEST(pc.records[0].lang == "ja");
    BOOST_TEST(pc.records[0].id == "7");
    // Content parts are concatenated; escapes are decoded.
    BOOST_TEST(pc.records[1].prompt == "part1 part2");
    BOOST_TEST(pc.records[1].response == "esc\"aped\n\xc3\xa9");
    BOOST_TEST(pc.records[1].id == "m2");
    BOOST_TEST(pc.records[1].lang == "");
}

BOOST_AUTO_TEST_CASE(field_names_and_lang_override) {
    pg::io::jsonl_options o;
    o.prompt_field = "instruction";
    o.response_field = "output";
    auto pc = pg::io::read_all((data_dir / "score/custom_fields.jsonl").string(), o);
    BOOST_REQUIRE_EQUAL(pc.records.size(), 1u);
    BOOST_TEST(pc.records[0].prompt == "I");
    BOOST_TEST(pc.records[0].response == "O");
    BOOST_TEST(pc.records[0].lang == "es");
    o.lang = "ar";
    pc = pg::io::read_all((data_dir / "score/custom_fields.jsonl").string(), o);
    BOOST_TEST(pc.records[0].lang == "ar");
    // With the default names the same file has no prompt.
    pc = pg::io::read_all((data_dir / "score/custom_fields.jsonl").string());
    BOOST_REQUIRE_EQUAL(pc.skips.size(), 1u);
    BOOST_TEST(pc.skips[0].reason == "missing_field:prompt");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(chunking_does_not_change_what_is_read) {
    std::string content;
    for (int i = 1; i <= 300; ++i) {
        if (i % 17 == 0)
            content += "{broken\n";
        else if (i % 23 == 0)
            content += "\r\n";
        else
            content += R"({"prompt": "p)" + std::to_string(i) + R"(", "response": "r\u00e9)" +
                       std::string(static_cast<std::size_t>(i % 50), 'z') + R"(", "id": )" +
                       std::to_string(i) + "}\r\n";
    }
    temp_file f(content);
    pg::io::jsonl_options ref;
    ref.chunk_lines = 100000;
    auto expect = read_chunked(f.path, ref);
    BOOST_TEST(expect.first.size() == 300u - 17u - 13u);
    for (std::size_t lines : {std::size_t{1}, std::size_t{7}, std::size_t{64}})
        for (std::size_t block : {std::size_t{1}, std::size_t{13}, std::size_t{1000}}) {
            pg::io::jsonl_options o;
            o.chunk_lines = lines;
            o.read_block_bytes = block;
            auto got = read_chunked(f.path, o);
            BOOST_TEST((got.first == expect.first), "lines " << lines << " block " << block);
            BOOST_TEST((got.second == expect.second), "lines " << lines << " block " << block);
        }
}
