// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: JSONL ingest (src/io/jsonl.cpp): line_reader + parse_chunk on arbitrary
// bytes. Besides crashes and sanitizer reports it checks the ingest contract: every line of the
// file becomes exactly one record, skip or blank line, numbered 1..L in order, and the result
// does not depend on the chunk or read-block size.
#include <algorithm>
#include <cstdint>
#include <polyglot/io/jsonl.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "fuzz_util.hpp"

namespace {

using entry = std::tuple<std::uint64_t, int, std::string, std::string, std::string, std::string>;

/// Every line's fate in line order: (line, kind, prompt/reason, response, lang, id).
std::vector<entry> ingest(const std::string& path, const polyglot::io::jsonl_options& o) {
    polyglot::io::line_reader reader(path, 0, o);
    polyglot::io::line_chunk chunk;
    polyglot::io::parsed_chunk pc;
    std::vector<entry> out;
    while (reader.next(chunk)) {
        if (chunk.lines.size() > o.chunk_lines) polyglot_fuzz::invariant_failed();
        polyglot::io::parse_chunk(chunk, o, pc);
        std::vector<entry> part;
        for (const auto& r : pc.records)
            part.emplace_back(r.line, 0, std::string(r.prompt), std::string(r.response),
                              std::string(r.lang), std::string(r.id));
        for (const auto& s : pc.skips) part.emplace_back(s.line, 1, s.reason, "", "", "");
        for (auto b : pc.blank_lines) part.emplace_back(b, 2, "", "", "", "");
        std::sort(part.begin(), part.end());
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static polyglot_fuzz::mem_file file("fuzz.jsonl");
    if (size < 1) return 0;
    // The first byte picks the limits; the rest is the file.
    const std::uint8_t knobs = data[0];
    const std::string path = file.write(data + 1, size - 1);
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

    polyglot::io::jsonl_options a;
    a.max_line_bytes = (knobs & 1) ? 24 : std::size_t{1} << 20;  // small: line_too_long paths
    a.chunk_lines = 1 + (knobs >> 1 & 3);
    a.read_block_bytes = 1 + (knobs >> 3 & 31);
    if (knobs & 0x80) a.lang = "de";
    polyglot::io::jsonl_options b = a;
    b.chunk_lines = 1024;
    b.read_block_bytes = 4096;

    const auto x = ingest(path, a);
    // Lines of the file; a UTF-8 BOM at the start is not part of them.
    std::string_view body = text;
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
    std::uint64_t lines = 0;
    for (char c : body) lines += c == '\n';
    if (!body.empty() && body.back() != '\n') ++lines;
    if (x.size() != lines) polyglot_fuzz::invariant_failed();
    for (std::size_t i = 0; i < x.size(); ++i)
        if (std::get<0>(x[i]) != i + 1) polyglot_fuzz::invariant_failed();
    if (ingest(path, b) != x) polyglot_fuzz::invariant_failed();
    return 0;
}
