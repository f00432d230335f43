// SPDX-License-Identifier: Apache-2.0
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>

#include <cstdlib>
#include <string>

POLYGLOT_BEGIN_NAMESPACE

std::filesystem::path data_dir() {
    if (const char* d = std::getenv("POLYGLOT_DATA_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
        return std::filesystem::path(x) / "polyglot";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::filesystem::path(h) / ".cache" / "polyglot";
    return std::filesystem::path(".polyglot-data");
}

std::filesystem::path resolve_asset(std::string_view name_or_path) {
    std::filesystem::path p(name_or_path);
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) return p;
    auto in_data = data_dir() / p;
    if (std::filesystem::exists(in_data, ec)) return in_data;
    throw io_error("asset '" + std::string(name_or_path) + "' not found (looked at '" +
                   p.string() + "' and '" + in_data.string() +
                   "'); run scripts/bootstrap to fetch it, or pass a path");
}

POLYGLOT_END_NAMESPACE
