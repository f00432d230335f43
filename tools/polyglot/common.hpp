// SPDX-License-Identifier: Apache-2.0
/// @file Small helpers shared by the subcommands.
#pragma once

#include <polyglot/io/atomic_file.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace polyglot::cli {

/// True when standard error is a terminal (progress bars go there only).
inline bool stderr_is_tty() { return ::isatty(2) == 1; }

/// Writes @p content to @p path ("-" = stdout) atomically.
inline void write_output(const std::string& path, std::string_view content) {
    if (path.empty() || path == "-") {
        std::fwrite(content.data(), 1, content.size(), stdout);
        std::fflush(stdout);
        return;
    }
    io::write_file_atomic(path, content);
}

}  // namespace polyglot::cli
