// SPDX-License-Identifier: Apache-2.0
/// @file Inputs as users keep them: plain, gzip (zlib) or zstd (libzstd) files read as one
/// byte stream (the format is recognised by its magic bytes, not its name, so `-` works for
/// compressed standard input too); directories and glob patterns expanded to their files;
/// and cheap file fingerprints and CRC-32 for saved states. zlib and libzstd stay in src/io/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

enum class compression {
    none,  ///< plain bytes
    gzip,  ///< gzip members (1f 8b), concatenated members allowed
    zstd,  ///< zstd frames (28 b5 2f fd), concatenated frames allowed
};

/// "none", "gzip" or "zstd".
std::string_view compression_name(compression c) noexcept;

/// A stream of decoded bytes. Not thread-safe (one reader).
class byte_source {
  public:
    virtual ~byte_source() = default;
    /// Reads up to @p n decoded bytes into @p out; returns 0 only at the end of the stream.
    /// Throws io_error on a read error or corrupt/truncated compressed data; the message does
    /// not name the file (line_reader adds the file and line).
    virtual std::size_t read(char* out, std::size_t n) = 0;
    /// Bytes of the underlying file consumed so far (compressed bytes for archives).
    [[nodiscard]] virtual std::uint64_t raw_position() const noexcept = 0;
    [[nodiscard]] virtual compression kind() const noexcept = 0;
};

/// Opens @p path ("-" = standard input) and recognises gzip / zstd by their first bytes.
/// Throws io_error naming @p path when it cannot be opened or is a directory.
std::unique_ptr<byte_source> open_source(const std::string& path);

/// Expands input arguments into files, in order:
///   - "-" stays "-" (standard input);
///   - a directory becomes its regular files named *.jsonl, *.jsonl.gz or *.jsonl.zst (not
///     recursive, hidden files skipped), sorted by name (byte order);
///   - an argument that is not an existing path but contains `*`, `?` or `[` is a glob
///     pattern (quote it so the shell leaves it alone): its matches, sorted by name;
///   - anything else is kept as is (opening it later reports a missing file).
/// Throws argument_error when a directory or pattern yields no file.
std::vector<std::string> expand_inputs(const std::vector<std::string>& args);

/// CRC-32 (zlib's, the gzip/PNG polynomial) of @p data continuing from @p crc (0 to start).
std::uint32_t crc32(std::uint32_t crc, std::string_view data) noexcept;

/// A cheap identity of a file or of a directory tree (hidden entries skipped): for each
/// regular file its relative path, size and CRC-32 of its first and last 64 KiB, folded into
/// one hex string. Detects a different model or dataset at the same path without reading
/// gigabytes of weights. Throws io_error when @p path cannot be read.
std::string fingerprint(const std::filesystem::path& path);

}  // namespace io
POLYGLOT_END_NAMESPACE
