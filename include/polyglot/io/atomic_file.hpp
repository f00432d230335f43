// SPDX-License-Identifier: Apache-2.0
/// @file Atomic output files: write to a temporary file beside the target, then rename.
#pragma once

#include <polyglot/core/export.hpp>
#include <polyglot/version.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

/// Writes @p content to @p path atomically (temporary file in the same directory + rename).
/// Throws io_error naming the path on failure. Thread-safe for distinct paths.
POLYGLOT_API void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// A streaming output file that appears at its final path only on commit(); if the object is
/// destroyed without commit() the temporary file is removed. "-" means standard output
/// (written directly, commit() flushes).
class POLYGLOT_API atomic_ofstream {
public:
    explicit atomic_ofstream(std::filesystem::path path);
    /// A resumable output (checkpointed runs): the temporary file has the fixed name
    /// @p partial and is kept when the object is destroyed without commit(), so a restarted
    /// process can continue it. Its first @p keep bytes are kept (io_error when it is shorter)
    /// and anything after them is cut; @p keep = 0 starts it empty.
    atomic_ofstream(std::filesystem::path path, std::filesystem::path partial, std::uint64_t keep);
    ~atomic_ofstream();
    atomic_ofstream(const atomic_ofstream&) = delete;
    atomic_ofstream& operator=(const atomic_ofstream&) = delete;

    void write(std::string_view bytes);
    /// Flushes, fsyncs and renames into place. Throws io_error on failure.
    void commit();
    /// Flushes and fsyncs what was written so far (not for "-"). Throws io_error.
    void sync();
    /// Bytes in the file so far (kept + written).
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    /// The temporary file's path.
    [[nodiscard]] const std::filesystem::path& temp_path() const noexcept { return tmp_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
    std::filesystem::path tmp_;
    std::FILE* f_ = nullptr;
    bool stdout_ = false;
    bool committed_ = false;
    bool keep_on_failure_ = false;
    std::uint64_t size_ = 0;
};

/// Reads a whole file; throws io_error naming the path.
POLYGLOT_API std::string read_file(const std::filesystem::path& path);

}  // namespace io
POLYGLOT_END_NAMESPACE
