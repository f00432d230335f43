// SPDX-License-Identifier: Apache-2.0
/// @file Helpers of the libFuzzer targets: the loaders under test take a path, so each input is
/// written to an in-memory file (memfd) and handed over as /proc/self/fd/N.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace polyglot_fuzz {

/// One in-memory file per process, rewritten for every input.
class mem_file {
  public:
    explicit mem_file(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
        if (fd_ < 0) std::abort();
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~mem_file() { ::close(fd_); }
    mem_file(const mem_file&) = delete;
    mem_file& operator=(const mem_file&) = delete;

    /// Replaces the contents with @p n bytes at @p data; returns the path to open.
    const std::string& write(const void* data, std::size_t n) {
        if (::ftruncate(fd_, 0) != 0) std::abort();
        const auto* p = static_cast<const char*>(data);
        std::size_t done = 0;
        while (done < n) {
            const ssize_t w = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(done));
            if (w <= 0) std::abort();
            done += static_cast<std::size_t>(w);
        }
        return path_;
    }

  private:
    int fd_;
    std::string path_;
};

/// A broken invariant: a crash libFuzzer reports (with the input that caused it).
[[noreturn]] inline void invariant_failed() { __builtin_trap(); }

}  // namespace polyglot_fuzz
