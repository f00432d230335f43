// SPDX-License-Identifier: Apache-2.0
/// @file Streaming JSONL ingest: a block reader that yields chunks of whole lines (constant
/// memory in the number of records), and a chunk parser that turns lines into `record`s or
/// skip reasons (product.md §3 record shapes, §6 bad input). simdjson stays in src/io/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <polyglot/core/record.hpp>
#include <polyglot/io/input.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

/// How JSONL records are read. Chunk sizes are fixed numbers (never derived from the thread
/// count), so everything computed per chunk and merged in order is independent of --threads.
struct jsonl_options {
    std::string prompt_field = "prompt";      ///< --prompt-field
    std::string response_field = "response";  ///< --response-field
    std::string lang;                         ///< --lang: overrides the records' own language
    std::size_t max_line_bytes = std::size_t{64} << 20;   ///< longer lines: `line_too_long`
    std::size_t chunk_lines = 1024;                       ///< lines per chunk
    std::size_t read_block_bytes = std::size_t{1} << 20;  ///< bytes per read() call
};

/// A run of whole lines of one input file. Owns its bytes (padded for simdjson).
struct line_chunk {
    struct line {
        std::size_t offset = 0;    ///< into bytes
        std::size_t size = 0;      ///< without the '\n' and a trailing '\r'
        std::uint64_t number = 0;  ///< 1-based line number in the file
        bool too_long = false;     ///< longer than max_line_bytes: its bytes are not kept
    };
    std::uint32_t file = 0;             ///< index of the input file
    std::string bytes;                  ///< the lines' bytes (+ at least 64 bytes of capacity)
    std::vector<line> lines;            ///< in file order
    std::uint64_t input_bytes_end = 0;  ///< bytes of the file read so far (progress; compressed
                                        ///< bytes for archives)

    [[nodiscard]] std::string_view text(const line& l) const {
        return std::string_view(bytes).substr(l.offset, l.size);
    }
};

/// Reads one file ("-" = standard input; plain, gzip or zstd, see io/input.hpp) in blocks of
/// read_block_bytes and yields chunks of up to chunk_lines whole lines. Line numbers count
/// lines of the decoded text, so messages name the line inside an archive. Strips a UTF-8 BOM at
/// the start of the file and a '\r' before each '\n'. A line longer than max_line_bytes is streamed
/// past (never held in memory beyond max_line_bytes + one block) and reported with too_long set.
/// Not thread-safe (one reader per file, used from one serial stage).
class line_reader {
  public:
    /// Throws io_error naming @p path if it cannot be opened.
    line_reader(std::string path, std::uint32_t file_index, const jsonl_options& opts);
    ~line_reader();
    line_reader(const line_reader&) = delete;
    line_reader& operator=(const line_reader&) = delete;

    /// Fills @p out with the next chunk of at most min(chunk_lines, @p max_lines) lines; false
    /// at the end of the file. Throws io_error on a read error or corrupt compressed data,
    /// naming the file and the line where the data went bad.
    bool next(line_chunk& out, std::uint64_t max_lines = UINT64_MAX);

    /// Passes over up to @p n lines without keeping them (lines as next() counts them);
    /// returns how many there were (fewer at the end of the file). Constant memory.
    std::uint64_t skip_lines(std::uint64_t n);

    /// Lines returned or skipped so far.
    [[nodiscard]] std::uint64_t lines_done() const noexcept { return line_no_; }
    /// Size of the file in bytes if known (regular files), else 0.
    [[nodiscard]] std::uint64_t size_hint() const noexcept { return size_hint_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

  private:
    void fill();
    void push_line(line_chunk& out, std::size_t begin, std::size_t end);
    void skip_long_line(line_chunk& out);

    std::string path_;
    std::uint32_t file_;
    jsonl_options opts_;
    std::unique_ptr<byte_source> src_;
    bool eof_ = false;
    bool started_ = false;
    std::string buf_;       ///< unconsumed input; [0, cur_) already in the current chunk
    std::size_t cur_ = 0;   ///< start of the current (incomplete) line in buf_
    std::size_t scan_ = 0;  ///< no '\n' in [cur_, scan_)
    std::uint64_t line_no_ = 0;
    std::uint64_t read_ = 0;
    std::uint64_t size_hint_ = 0;
};

/// Why a line did not become a record. `reason` is a stable code: `line_too_long`,
/// `malformed_json`, `invalid_utf8`, `not_an_object`, `missing_field:F`, `null_field:F`,
/// `non_string_field:F`, `non_array_field:messages`, `bad_message`, `no_user_turn`,
/// `no_assistant_turn`. `detail` is a human explanation (may be empty).
struct skip_info {
    std::uint64_t line = 0;
    std::string reason;
    std::string detail;
};

/// The records and skips of one chunk. Records view into `arena` (and the options' `lang`):
/// they are valid while this object is alive and unmodified.
struct parsed_chunk {
    std::uint32_t file = 0;
    std::vector<record> records;   ///< in line order; `index` is not set here
    std::vector<skip_info> skips;  ///< bad lines, in line order
    /// Line numbers of blank (empty or white-space-only) lines: neither records nor bad
    /// records; reports count them apart from `skipped`.
    std::vector<std::uint64_t> blank_lines;
    std::string arena;
};

/// Parses every line of @p chunk (thread-safe: each thread uses its own parser).
/// Record shapes: `prompt`/`response` fields (names from @p opts), or a `messages` list where the
/// prompt is the first `user` turn and the response the first `assistant` turn after it
/// (`content` a string, or a list of `{"text": ...}` parts, concatenated). Language: opts.lang,
/// else the record's `language`, else `target_lang` (strings). `id`: a string or an integer.
/// Empty strings are valid. Never throws for bad data (bad lines become skips).
void parse_chunk(const line_chunk& chunk, const jsonl_options& opts, parsed_chunk& out);

/// Convenience for tests and small tools: reads and parses a whole file in one call.
parsed_chunk read_all(const std::string& path, const jsonl_options& opts = {});

}  // namespace io
POLYGLOT_END_NAMESPACE
