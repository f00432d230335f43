// SPDX-License-Identifier: Apache-2.0
/// @file The request journal that makes remote runs resumable: one JSON line per completed
/// request, `{"k":"<sha256 of the canonical request>","v":<result>}`, appended to a file in the
/// data directory. Rerunning a command reuses every journaled result, so nothing is sent twice
/// and nothing is lost after a crash or `kill -9`.
///
/// Crash safety: each line is written with one write() on an O_APPEND descriptor (a complete
/// line or, if the process dies mid-write, a torn tail without its newline); a torn or otherwise
/// malformed line is ignored when the journal is read. Lines are flushed to the kernel at once
/// (a killed process loses nothing) and fdatasync'ed at most once a second and on close (a power
/// loss may cost the last second). Several processes may append to one journal: appends of whole
/// lines do not interleave.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

POLYGLOT_BEGIN_NAMESPACE
namespace remote {

/// SHA-256 of a canonical request.
using request_key = std::array<std::uint8_t, 32>;
request_key hash_request(std::string_view canonical);
std::string to_hex(const request_key& k);

class journal {
  public:
    /// Opens (creating it and its directory) and indexes @p file. Throws io_error.
    explicit journal(std::filesystem::path file);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    /// The journaled result of @p k (a JSON value), if any. Thread-safe.
    [[nodiscard]] std::optional<std::string> find(const request_key& k) const;
    /// Appends a completed request. @p value must be one line of JSON. Thread-safe.
    void append(const request_key& k, std::string_view value);
    /// fdatasync now.
    void sync();

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    /// Entries indexed (distinct keys).
    [[nodiscard]] std::size_t size() const;
    /// Lines ignored when the journal was read (torn or malformed).
    [[nodiscard]] std::size_t ignored_lines() const noexcept { return ignored_; }

  private:
    struct key_hash {
        std::size_t operator()(const request_key& k) const noexcept;
    };
    struct where {
        std::uint64_t offset = 0;  ///< of the value
        std::uint32_t size = 0;
    };
    void index_existing();

    std::filesystem::path path_;
    int fd_ = -1;
    std::uint64_t end_ = 0;  ///< bytes of whole lines (appends go after them)
    std::size_t ignored_ = 0;
    mutable std::mutex mutex_;
    std::unordered_map<request_key, where, key_hash> index_;
    std::int64_t last_sync_ms_ = 0;
    bool dirty_ = false;
};

}  // namespace remote
POLYGLOT_END_NAMESPACE
