// SPDX-License-Identifier: Apache-2.0
// Inputs as users keep them (io/input.hpp, io/jsonl.hpp): gzip and zstd files written by the
// gzip and zstd command-line tools (the oracle) read back as the plain file's exact lines,
// concatenated members/frames included; damaged archives fail naming the file and the line;
// skip_lines counts lines as next() yields them; directories and globs expand in name order.
#define BOOST_TEST_MODULE input
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/io/input.hpp>
#include <polyglot/io/jsonl.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace pg = polyglot;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

const fs::path& dir() {
    static const fs::path d = [] {
        fs::path p =
            fs::temp_directory_path() / ("polyglot_input_test_" + std::to_string(::getpid()));
        fs::create_directories(p);
        return p;
    }();
    return d;
}

void write(const fs::path& p, const std::string& s) {
    std::ofstream o(p, std::ios::binary);
    o << s;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void sh(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    BOOST_REQUIRE_MESSAGE(rc == 0,
                          "failed: " << cmd << " (gzip and zstd come from scripts/bootstrap)");
}

/// ~6 MB of varied lines (several read blocks, several zstd blocks), BOM, CRLF, a blank line,
/// and no final newline.
const std::string& text() {
    static const std::string t = [] {
        std::string s = "\xEF\xBB\xBF";
        for (int i = 0; i < 60000; ++i) {
            s += "{\"prompt\": \"q" + std::to_string(i) + "\", \"response\": \"";
            s.append(static_cast<std::size_t>(i * 7919 % 150), static_cast<char>('a' + i % 26));
            s += i % 1000 == 5 ? "\"}\r\n" : "\"}\n";
            if (i % 7777 == 3) s += "\n";
        }
        s += "{\"prompt\": \"last\", \"response\": \"no newline\"}";
        return s;
    }();
    return t;
}

struct read_back {
    std::vector<std::pair<std::uint64_t, std::string>> lines;
    std::uint64_t last_input_bytes = 0;
};

read_back read_lines(const fs::path& p, std::size_t block = std::size_t{1} << 20) {
    pg::io::jsonl_options o;
    o.read_block_bytes = block;
    o.chunk_lines = 333;
    pg::io::line_reader r(p.string(), 0, o);
    pg::io::line_chunk c;
    read_back out;
    while (r.next(c)) {
        for (const auto& l : c.lines) out.lines.emplace_back(l.number, std::string(c.text(l)));
        out.last_input_bytes = c.input_bytes_end;
    }
    return out;
}

struct remove_temp_dir {
    ~remove_temp_dir() {
        std::error_code ec;
        fs::remove_all(dir(), ec);
    }
};

}  // namespace

BOOST_GLOBAL_FIXTURE(remove_temp_dir);

BOOST_AUTO_TEST_CASE(gzip_and_zstd_read_as_the_plain_file) {
    const fs::path plain = dir() / "t.jsonl";
    write(plain, text());
    sh("gzip -c " + plain.string() + " > " + plain.string() + ".gz");
    sh("zstd -q -f -c " + plain.string() + " > " + plain.string() + ".zst");
    const auto ref = read_lines(plain);
    BOOST_REQUIRE(ref.lines.size() == 60000u + 8u + 1u);
    BOOST_TEST(ref.lines.front().second.rfind("{\"prompt\": \"q0\"", 0) == 0u);  // BOM gone
    BOOST_TEST(ref.lines.back().second.find("no newline") != std::string::npos);
    for (const char* ext : {".gz", ".zst"}) {
        BOOST_TEST_CONTEXT(ext) {
            const fs::path p = plain.string() + ext;
            for (std::size_t block : {std::size_t{4096}, std::size_t{1} << 20}) {
                const auto got = read_lines(p, block);
                BOOST_TEST((got.lines == ref.lines));
                // Progress counts compressed bytes: the whole archive at the end.
                BOOST_TEST(got.last_input_bytes == fs::file_size(p));
            }
            auto src = pg::io::open_source(p.string());
            BOOST_TEST(std::string(pg::io::compression_name(src->kind())) ==
                       (std::string(ext) == ".gz" ? "gzip" : "zstd"));
        }
    }
}

BOOST_AUTO_TEST_CASE(concatenated_members_and_frames) {
    const fs::path a = dir() / "a.jsonl", b = dir() / "b.jsonl";
    write(a, "{\"x\": 1}\n{\"x\": 2}\n");
    write(b, "{\"x\": 3}\n");
    sh("cd " + dir().string() + " && gzip -c a.jsonl > ab.gz && gzip -c b.jsonl >> ab.gz");
    sh("cd " + dir().string() + " && zstd -q -c a.jsonl > ab.zst && zstd -q -c b.jsonl >> ab.zst");
    for (const char* f : {"ab.gz", "ab.zst"}) {
        const auto got = read_lines(dir() / f);
        BOOST_REQUIRE_MESSAGE(got.lines.size() == 3u, f);
        BOOST_TEST(got.lines[2].second == "{\"x\": 3}");
        BOOST_TEST(got.lines[2].first == 3u);
    }
}

BOOST_AUTO_TEST_CASE(damaged_archives_name_the_file_and_line) {
    const fs::path plain = dir() / "d.jsonl";
    write(plain, text());
    sh("gzip -c " + plain.string() + " > " + plain.string() + ".gz");
    sh("zstd -q -f -c " + plain.string() + " > " + plain.string() + ".zst");
    auto expect_error = [](const fs::path& p, const std::string& words) -> std::uint64_t {
        try {
            read_lines(p);
        } catch (const pg::io_error& e) {
            const std::string m = e.what();
            BOOST_TEST(m.rfind(p.string() + ":", 0) == 0u, m);
            BOOST_TEST(m.find(words) != std::string::npos, m);
            // FILE:LINE: with a line number past the start (the damage is mid-file).
            const std::uint64_t line = std::stoull(m.substr(p.string().size() + 1));
            BOOST_TEST(line > 1000u, m);
            return line;
        }
        BOOST_ERROR("no error for " << p);
        return std::uint64_t{0};
    };
    for (const char* ext : {".gz", ".zst"}) {
        const std::string whole = slurp(plain.string() + ext);
        const fs::path cut = dir() / (std::string("cut.jsonl") + ext);
        write(cut, whole.substr(0, whole.size() / 2));
        const auto line = expect_error(cut, "truncated");
        // The oracle: the tool itself decodes the same prefix up to that line.
        const std::string tool = std::string(ext) == ".gz" ? "gzip -dc " : "zstd -dcq ";
        sh(tool + cut.string() + " > " + (dir() / "prefix.txt").string() + " 2>/dev/null || true");
        const std::string prefix = slurp(dir() / "prefix.txt");
        const auto newlines =
            static_cast<std::uint64_t>(std::count(prefix.begin(), prefix.end(), '\n'));
        BOOST_TEST(line <= newlines + 1);
        BOOST_TEST(line + 2000 > newlines);  // within one read block of where the tool stopped
        std::string flipped = whole;
        for (std::size_t i = whole.size() / 2; i < whole.size() / 2 + 64; ++i) flipped[i] ^= 0x5a;
        const fs::path bad = dir() / (std::string("bad.jsonl") + ext);
        write(bad, flipped);
        expect_error(bad, "corrupt");
    }
    write(dir() / "trail.jsonl.gz", slurp(plain.string() + ".gz") + "garbage");
    try {
        read_lines(dir() / "trail.jsonl.gz");
        BOOST_ERROR("trailing garbage accepted");
    } catch (const pg::io_error& e) {
        BOOST_TEST(std::string(e.what()).find("trailing bytes") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(skip_lines_counts_what_next_yields) {
    pg::io::jsonl_options o;
    o.max_line_bytes = 100;
    o.read_block_bytes = 64;
    const std::string long_line(1000, 'x');
    for (const std::string& content :
         {std::string(), std::string("\xEF\xBB\xBF"), std::string("\n"), std::string("a"),
          std::string("a\nb"), std::string("a\r\nb\r\n"), long_line, "a\n" + long_line,
          long_line + "\n" + long_line + "\nz", std::string("\n\n\n")}) {
        const fs::path p = dir() / "s.jsonl";
        write(p, content);
        pg::io::line_reader counter(p.string(), 0, o);
        const std::uint64_t n = counter.skip_lines(UINT64_MAX);
        pg::io::line_reader reader(p.string(), 0, o);
        pg::io::line_chunk c;
        std::uint64_t m = 0;
        while (reader.next(c)) m += c.lines.size();
        BOOST_TEST(n == m, "content of " << content.size() << " bytes");
        // Skipping k lines then reading yields the remaining lines with their numbers.
        for (std::uint64_t k = 0; k <= m; ++k) {
            pg::io::line_reader r(p.string(), 0, o);
            BOOST_TEST(r.skip_lines(k) == k);
            std::uint64_t first = 0, rest = 0;
            while (r.next(c)) {
                if (!first && !c.lines.empty()) first = c.lines.front().number;
                rest += c.lines.size();
            }
            BOOST_TEST(rest == m - k);
            if (rest) BOOST_TEST(first == k + 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(directories_and_globs_expand_in_name_order) {
    const fs::path d = dir() / "shards";
    fs::create_directories(d / "sub");
    for (const char* f :
         {"b.jsonl", "a.jsonl.zst", "c.jsonl.gz", "notes.txt", ".hidden.jsonl", "sub/x.jsonl"})
        write(d / f, "{}\n");
    const auto got = pg::io::expand_inputs({d.string(), "-", (d / "*.jsonl*").string()});
    const std::vector<std::string> want = {
        (d / "a.jsonl.zst").string(), (d / "b.jsonl").string(), (d / "c.jsonl.gz").string(), "-",
        (d / "a.jsonl.zst").string(), (d / "b.jsonl").string(), (d / "c.jsonl.gz").string()};
    BOOST_TEST(got == want, tt::per_element());
    BOOST_CHECK_EXCEPTION(pg::io::expand_inputs({(d / "*.parquet").string()}), pg::argument_error,
                          [](const pg::argument_error& e) {
                              return std::string(e.what()).find("no file matches") !=
                                     std::string::npos;
                          });
    fs::create_directories(d / "none");
    write(d / "none" / "readme.txt", "x");
    BOOST_CHECK_THROW(pg::io::expand_inputs({(d / "none").string()}), pg::argument_error);
    const std::vector<std::string> missing = {"missing.jsonl"};
    BOOST_TEST(pg::io::expand_inputs(missing) == missing, tt::per_element());
}

BOOST_AUTO_TEST_CASE(fingerprints_see_content_not_names) {
    const fs::path a = dir() / "fa.jsonl", b = dir() / "fb.jsonl";
    write(a, std::string(300000, 'a'));
    write(b, std::string(300000, 'a'));
    const std::string fa = pg::io::fingerprint(a);
    BOOST_TEST(fa == pg::io::fingerprint(b));  // same bytes, another name
    std::string changed(300000, 'a');
    changed[299990] = 'b';  // in the last 64 KiB
    write(b, changed);
    BOOST_TEST(pg::io::fingerprint(b) != pg::io::fingerprint(a));
    // zlib's CRC-32 of "123456789" is the standard check value.
    BOOST_TEST(pg::io::crc32(0, "123456789") == 0xCBF43926u);
}
