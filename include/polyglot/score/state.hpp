// SPDX-License-Identifier: Apache-2.0
/// @file Saved scoring states: what `polyglot score --state-out` and checkpoints write and
/// `polyglot merge` / `--resume` read. A state is a run's counters and every metric's state
/// (metrics/metric.hpp save/load), so shards and interrupted runs merge to exactly the report of
/// one uninterrupted pass.
///
/// File layout (little-endian; io/binary.hpp encodings):
///   magic "\x89PGST\r\n\x1a" (8 bytes) · u32 format version · u64 payload size ·
///   payload · u32 CRC-32 (zlib) of every byte before it.
/// Payload: the header (ordered key → value strings naming everything that changes results:
/// polyglot version, metrics, tokenizer, models with their backends and fingerprints,
/// max_tokens, fields, language, limits, teacher, and every input file with its size and
/// fingerprint), the shard (index, count, global line range), whether the run is complete or
/// a checkpoint and the global line it continues from, this run's per-instance output (path,
/// bytes, CRC-32), the worker threads, the backend identities, the counters of run_result,
/// and each metric's name and state bytes.
/// A state with another magic, format version, size or checksum is refused before anything is
/// merged; states whose headers differ are refused with the first differing key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <polyglot/score/score.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

/// Bump on any change of the layout above or of any metric's save().
inline constexpr std::uint32_t state_format_version = 4;  // 2: failed calls, 3: blank lines, 4: backends

/// Ordered (key, value) pairs.
using state_header = std::vector<std::pair<std::string, std::string>>;

/// A contiguous block of input lines, numbered across all input files in order (0-based).
struct shard_spec {
    std::uint32_t index = 0;              ///< 0-based
    std::uint32_t count = 1;              ///< shards in the run
    std::uint64_t line_begin = 0;         ///< first global line of this shard
    std::uint64_t line_end = UINT64_MAX;  ///< one past its last (UINT64_MAX: to the end)
    friend bool operator==(const shard_spec&, const shard_spec&) = default;
};

/// Everything a saved state holds.
struct saved_state {
    state_header header;
    shard_spec shard;
    bool complete = false;          ///< false for a checkpoint
    std::string per_instance_path;  ///< this run's --per-instance file ("" = none)
    std::uint64_t per_instance_bytes = 0;
    std::uint32_t per_instance_crc = 0;
    std::uint64_t threads = 0;  ///< worker threads of the run (report metadata only)
    /// Who computed the model values (plugin::backend_identity::json() objects, sorted, each
    /// once; report metadata only: shards on other devices still merge).
    std::vector<std::string> backends;
    /// The run's counters; counters.next_line is the global line to continue from.
    run_counters counters;
    std::vector<std::pair<std::string, std::string>> metrics;  ///< name → state bytes
};

/// The header for a run: every option that changes its results (see the file comment).
/// Reads the size and fingerprint of every input and model (not "-"). Throws io_error when
/// one cannot be read.
state_header make_header(const metric_config& cfg, const metric_bundle& bundle,
                         const run_options& opts, const std::string& teacher);

/// The bytes of a state file / the state in them. decode_state throws format_error naming
/// @p what: not a state file, another format version, truncated, checksum mismatch, or
/// malformed content.
std::string encode_state(const saved_state& s);
saved_state decode_state(std::string_view bytes, const std::string& what);

/// Writes atomically (temporary file + fsync + rename) / reads a state file.
void write_state(const std::filesystem::path& path, const saved_state& s);
saved_state read_state(const std::filesystem::path& path);

/// "" when equal; else the first difference, e.g. "base_model: 'hf:a' vs 'hf:b'".
std::string header_difference(const state_header& a, const state_header& b);

/// The value of @p key in @p h ("" when absent).
std::string header_value(const state_header& h, std::string_view key);

/// A run's counters and metric states as a saved_state (header, shard, completeness and
/// per-instance fields are left for the caller).
saved_state capture(const run_result& res, const metric_bundle& bundle);

/// The run_result a saved state describes, its metric states loaded by @p bundle's metrics.
/// Throws format_error naming @p what when the metrics differ or a state does not load.
run_result restore(const saved_state& s, const metric_bundle& bundle, const std::string& what);

/// The metrics a header names, built from the identities it records (no model, tokenizer or
/// asset is opened): they can load, merge and finalize states but not score records. The
/// bundle's identity strings are set for report metadata. Throws format_error on an unknown
/// metric.
metric_bundle make_metrics_from_header(const state_header& h);

/// One named state for merge_states.
struct named_state {
    std::string name;  ///< file path, for messages
    saved_state state;
};

/// Merges the complete states of every shard of one run, in shard order, into the
/// run_result a single pass would have produced (elapsed_seconds: the sum). Throws
/// argument_error naming the files when headers differ (with the difference), a state is a
/// checkpoint, shard counts differ, or a shard is missing or given twice.
run_result merge_states(std::vector<named_state>& states, const metric_bundle& bundle);

/// Splits @p opts.inputs into @p count contiguous blocks of lines (numbered across all files)
/// and returns block @p index (0-based), plus the line count of every file in
/// @p file_lines. Reads every input once (decompressing archives). Throws io_error.
shard_spec plan_shard(const run_options& opts, std::uint32_t index, std::uint32_t count,
                      std::vector<std::uint64_t>& file_lines);

}  // namespace score
POLYGLOT_END_NAMESPACE
