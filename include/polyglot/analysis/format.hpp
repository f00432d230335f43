// SPDX-License-Identifier: Apache-2.0
/// @file Text output of analysis results: aligned markdown tables and plain CSV.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

/// The text forms of an analysis result: a markdown table (the default), CSV or JSON.
enum class text_format { markdown, csv, json };

/// Fixed-point number with @p decimals decimals; "" for NaN; no "-0.000".
inline std::string fixed(double v, int decimals = 4) {
    if (std::isnan(v)) return "";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    std::string s = buf;
    if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
    return s;
}

/// p-value in a readable form (4 significant digits, scientific below 1e-4).
inline std::string pvalue(double p) {
    if (std::isnan(p)) return "";
    char buf[64];
    if (p != 0 && p < 1e-4)
        std::snprintf(buf, sizeof buf, "%.2e", p);
    else
        std::snprintf(buf, sizeof buf, "%.4f", p);
    return buf;
}

/// Code-point count of UTF-8 text (for column alignment).
inline std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

/// A markdown table; columns whose cells all look numeric are right-aligned.
inline std::string markdown_table(const std::vector<std::string>& header,
                                  const std::vector<std::vector<std::string>>& rows) {
    const std::size_t nc = header.size();
    std::vector<std::size_t> w(nc, 3);
    std::vector<bool> numeric(nc, true);
    for (std::size_t j = 0; j < nc; ++j) w[j] = std::max(w[j], display_width(header[j]));
    for (const auto& r : rows)
        for (std::size_t j = 0; j < nc && j < r.size(); ++j) {
            w[j] = std::max(w[j], display_width(r[j]));
            if (!r[j].empty() &&
                r[j].find_first_not_of("0123456789.-+eE%*[], ") != std::string::npos)
                numeric[j] = false;
        }
    auto cell = [&](const std::string& s, std::size_t j) {
        std::string pad(w[j] - std::min(w[j], display_width(s)), ' ');
        return numeric[j] ? pad + s : s + pad;
    };
    std::string out = "|";
    for (std::size_t j = 0; j < nc; ++j) out += " " + cell(header[j], j) + " |";
    out += "\n|";
    for (std::size_t j = 0; j < nc; ++j)
        out +=
            (numeric[j] ? " " + std::string(w[j] - 1, '-') + ":" : " " + std::string(w[j], '-')) +
            " |";
    out += "\n";
    for (const auto& r : rows) {
        out += "|";
        for (std::size_t j = 0; j < nc; ++j) {
            std::string s = j < r.size() ? r[j] : "";
            for (auto& c : s)
                if (c == '|' || c == '\n') c = ' ';
            out += " " + cell(s, j) + " |";
        }
        out += "\n";
    }
    return out;
}

/// RFC 4180 CSV (fields with comma, quote or newline are quoted).
inline std::string csv_table(const std::vector<std::string>& header,
                             const std::vector<std::vector<std::string>>& rows) {
    auto field = [](const std::string& s) {
        if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
        std::string q = "\"";
        for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        return q + "\"";
    };
    std::string out;
    for (std::size_t j = 0; j < header.size(); ++j) out += (j ? "," : "") + field(header[j]);
    out += "\n";
    for (const auto& r : rows) {
        for (std::size_t j = 0; j < r.size(); ++j) out += (j ? "," : "") + field(r[j]);
        out += "\n";
    }
    return out;
}

/// Splits "a,b,c" (empty items dropped, spaces trimmed).
inline std::vector<std::string> split_list(const std::string& s, char sep = ',') {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto end = s.find(sep, start);
        if (end == std::string::npos) end = s.size();
        std::string item = s.substr(start, end - start);
        auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
        start = end + 1;
    }
    return out;
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
