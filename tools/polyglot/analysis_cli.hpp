// SPDX-License-Identifier: Apache-2.0
/// @file What the analysis subcommands (compare, pgscore, correlate, pca) share on the CLI side:
/// their output-format and pool options, the warnings on stderr, and the write-the-result-then-
/// the-plots tail. The computations and the documents they render are in
/// include/polyglot/analysis/.
#pragma once

#include <cstdio>
#include <functional>
#include <initializer_list>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/core/error.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"

namespace polyglot::cli {

/// The format chosen by --json / --csv (markdown when neither). @throws argument_error for both.
inline analysis::text_format text_format_of(bool json, bool csv) {
    if (json && csv) throw argument_error("--json and --csv exclude each other");
    return json  ? analysis::text_format::json
           : csv ? analysis::text_format::csv
                 : analysis::text_format::markdown;
}

/// The z-score pool named by --pool. @throws argument_error for an unknown name.
inline analysis::pool_kind pool_kind_of(const std::string& name) {
    if (name == "global") return analysis::pool_kind::global;
    if (name == "per-language") return analysis::pool_kind::per_language;
    throw argument_error("--pool must be global or per-language");
}

/// Prints each warning to stderr as "<prefix><warning>".
inline void print_warnings(const char* prefix, const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) std::fprintf(stderr, "%s%s\n", prefix, w.c_str());
}

/// A plot an analysis command was asked for: where to write it ("" = not asked) and how to
/// draw it (called only when asked).
struct plot_request {
    std::string path;
    std::function<std::string()> svg;
};

/// Writes each plot that was asked for (an SVG document per path).
inline void write_plots(std::initializer_list<plot_request> plots) {
    for (const auto& p : plots)
        if (!p.path.empty()) write_output(p.path, p.svg());
}

/// The tail the analysis commands share: the result @p text to @p output ("-" = stdout), then
/// the plots asked for.
inline void write_result(const std::string& output, std::string_view text,
                         std::initializer_list<plot_request> plots = {}) {
    write_output(output, text);
    write_plots(plots);
}

}  // namespace polyglot::cli
