// SPDX-License-Identifier: Apache-2.0
// The append-only request journal (see journal.hpp for the crash-safety rules).
#include "journal.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace remote {
namespace {

constexpr std::string_view key_prefix = "{\"k\":\"";
constexpr std::string_view value_prefix = "\",\"v\":";
constexpr std::size_t header_size = key_prefix.size() + 64 + value_prefix.size();

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/// The key and value of one complete line (without its newline), or false when malformed.
bool parse_line(std::string_view line, request_key& k, std::size_t& value_at,
                std::size_t& value_size) {
    if (line.size() < header_size + 2 || line.substr(0, key_prefix.size()) != key_prefix ||
        line.substr(key_prefix.size() + 64, value_prefix.size()) != value_prefix ||
        line.back() != '}')
        return false;
    for (std::size_t i = 0; i < 32; ++i) {
        const int hi = hex_digit(line[key_prefix.size() + 2 * i]);
        const int lo = hex_digit(line[key_prefix.size() + 2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        k[i] = std::uint8_t(hi * 16 + lo);
    }
    value_at = header_size;
    value_size = line.size() - header_size - 1;
    return true;
}

}  // namespace

request_key hash_request(std::string_view canonical) {
    request_key k{};
    unsigned int n = 0;
    if (EVP_Digest(canonical.data(), canonical.size(), k.data(), &n, EVP_sha256(), nullptr) != 1 ||
        n != k.size())
        throw plugin_error("SHA-256 failed (OpenSSL)");
    return k;
}

std::string to_hex(const request_key& k) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s(64, '0');
    for (std::size_t i = 0; i < k.size(); ++i) {
        s[2 * i] = hex[k[i] >> 4];
        s[2 * i + 1] = hex[k[i] & 15];
    }
    return s;
}

std::size_t journal::key_hash::operator()(const request_key& k) const noexcept {
    std::size_t h;
    std::memcpy(&h, k.data(), sizeof h);  // already uniformly distributed
    return h;
}

journal::journal(std::filesystem::path file) : path_(std::move(file)) {
    std::error_code ec;
    if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw io_error("request journal '" + path_.string() + "': cannot open (" +
                       std::strerror(errno) + ")");
    try {
        index_existing();
    } catch (...) {
        ::close(fd_);
        throw;
    }
    last_sync_ms_ = now_ms();
}

journal::~journal() {
    if (fd_ >= 0) {
        if (dirty_) ::fdatasync(fd_);
        ::close(fd_);
    }
}

void journal::index_existing() {
    std::string buf, line;
    std::vector<char> block(1 << 20);
    std::uint64_t offset = 0, line_start = 0;
    for (;;) {
        const ssize_t got = ::pread(fd_, block.data(), block.size(), off_t(offset));
        if (got < 0) {
            if (errno == EINTR) continue;
            throw io_error("request journal '" + path_.string() + "': cannot read (" +
                           std::strerror(errno) + ")");
        }
        if (got == 0) break;
        for (ssize_t i = 0; i < got; ++i) {
            const char c = block[std::size_t(i)];
            if (c != '\n') {
                line.push_back(c);
                continue;
            }
            request_key k;
            std::size_t at = 0, size = 0;
            if (parse_line(line, k, at, size))
                index_[k] = {line_start + at, std::uint32_t(size)};
            else if (!line.empty())
                ++ignored_;
            line_start = offset + std::uint64_t(i) + 1;
            line.clear();
        }
        offset += std::uint64_t(got);
    }
    end_ = offset;
    if (!line.empty()) {
        // A torn last line (the writer died mid-write): ignored, and the next append starts
        // on a fresh line.
        ++ignored_;
        const char nl = '\n';
        if (::write(fd_, &nl, 1) == 1) ++end_;
    }
}

std::optional<std::string> journal::find(const request_key& k) const {
    where w;
    {
        std::lock_guard lock(mutex_);
        auto it = index_.find(k);
        if (it == index_.end()) return std::nullopt;
        w = it->second;
    }
    std::string out(w.size, '\0');
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t got =
            ::pread(fd_, out.data() + done, out.size() - done, off_t(w.offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return std::nullopt;
        done += std::size_t(got);
    }
    return out;
}

void journal::append(const request_key& k, std::string_view value) {
    std::string line;
    line.reserve(header_size + value.size() + 2);
    line += key_prefix;
    line += to_hex(k);
    line += value_prefix;
    line += value;
    line += "}\n";
    std::lock_guard lock(mutex_);
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            throw io_error("request journal '" + path_.string() + "': cannot write (" +
                           std::strerror(errno) + ")");
        done += std::size_t(n);
    }
    const off_t end = ::lseek(fd_, 0, SEEK_CUR);  // O_APPEND: just past our line
    if (end >= off_t(line.size()))
        index_[k] = {std::uint64_t(end) - line.size() + header_size, std::uint32_t(value.size())};
    dirty_ = true;
    if (const auto t = now_ms(); t - last_sync_ms_ >= 1000) {
        ::fdatasync(fd_);
        last_sync_ms_ = t;
        dirty_ = false;
    }
}

void journal::sync() {
    std::lock_guard lock(mutex_);
    if (dirty_) ::fdatasync(fd_);
    dirty_ = false;
    last_sync_ms_ = now_ms();
}

std::size_t journal::size() const {
    std::lock_guard lock(mutex_);
    return index_.size();
}

}  // namespace remote
POLYGLOT_END_NAMESPACE
