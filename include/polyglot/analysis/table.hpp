// SPDX-License-Identifier: Apache-2.0
/// @file A small column table for analysis inputs: CSV (RFC 4180 quoting, quoted newlines),
/// JSON Lines (one object per line; columns = union of keys in first-seen order), and JSON (an
/// array of objects, or an object with a "rows" array). Every cell access that can fail throws
/// format_error naming the file, the line of the row and the column.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

/// A cell: missing (empty CSV field, JSON null or absent key), a number, or text.
using cell = std::variant<std::monostate, double, std::string>;

/// Formats a double in the shortest form that round-trips ("nan", "inf" for non-finite).
inline std::string format_double(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

/// Parses a whole string as a double ("nan"/"NaN" allowed; surrounding spaces allowed).
inline std::optional<double> parse_double(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    if (s.empty()) return std::nullopt;
    if (s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

class table {
  public:
    std::string source;  ///< file path (or a name) used in messages
    std::vector<std::string> columns;
    std::vector<std::vector<cell>> rows;   ///< rows[i].size() == columns.size()
    std::vector<std::size_t> lines;        ///< 1-based source line of each row (0: none)
    std::vector<std::string> row_sources;  ///< optional per-row file (tables built from reports)

    [[nodiscard]] std::size_t size() const noexcept { return rows.size(); }

    [[nodiscard]] std::optional<std::size_t> find_column(std::string_view name) const {
        for (std::size_t i = 0; i < columns.size(); ++i)
            if (columns[i] == name) return i;
        return std::nullopt;
    }

    /// Index of column @p name. @throws format_error naming the file and the columns present.
    [[nodiscard]] std::size_t require_column(std::string_view name) const {
        if (auto c = find_column(name)) return *c;
        std::string have;
        for (const auto& c : columns) have += (have.empty() ? "" : ", ") + c;
        throw format_error(source + ": missing column '" + std::string(name) +
                           "' (columns: " + (have.empty() ? "none" : have) + ")");
    }

    /// "file:line" of row @p r (or "file: row N" without line information).
    [[nodiscard]] std::string where(std::size_t r) const {
        if (r < row_sources.size() && !row_sources[r].empty()) return row_sources[r];
        if (r < lines.size() && lines[r] > 0) return source + ":" + std::to_string(lines[r]);
        return source + ": row " + std::to_string(r + 1);
    }

    [[nodiscard]] bool is_missing(std::size_t r, std::size_t c) const {
        return std::holds_alternative<std::monostate>(rows[r][c]);
    }

    /// The cell as a number (numeric text is parsed). "nan" gives NaN.
    /// @throws format_error for a missing or non-numeric cell.
    [[nodiscard]] double number(std::size_t r, std::size_t c) const {
        const cell& v = rows[r][c];
        if (auto d = std::get_if<double>(&v)) return *d;
        if (auto s = std::get_if<std::string>(&v)) {
            if (auto d = parse_double(*s)) return *d;
            throw format_error(where(r) + ": column '" + columns[c] + "': '" + clip(*s) +
                               "' is not a number");
        }
        throw format_error(where(r) + ": column '" + columns[c] + "' is missing");
    }

    /// As number(), but a missing cell gives NaN.
    [[nodiscard]] double number_or_nan(std::size_t r, std::size_t c) const {
        if (is_missing(r, c)) return std::numeric_limits<double>::quiet_NaN();
        return number(r, c);
    }

    /// The cell as text (numbers are formatted). @throws format_error for a missing cell.
    [[nodiscard]] std::string text(std::size_t r, std::size_t c) const {
        const cell& v = rows[r][c];
        if (auto s = std::get_if<std::string>(&v)) return *s;
        if (auto d = std::get_if<double>(&v)) return format_double(*d);
        throw format_error(where(r) + ": column '" + columns[c] + "' is missing");
    }

    /// Adds a column (if absent) and returns its index; existing rows get missing cells.
    std::size_t add_column(const std::string& name) {
        if (auto c = find_column(name)) return *c;
        columns.push_back(name);
        for (auto& row : rows) row.emplace_back();
        return columns.size() - 1;
    }

  private:
    static std::string clip(const std::string& s) {
        return s.size() > 40 ? s.substr(0, 40) + "…" : s;
    }
};

/// Parses CSV text (first record = header). @throws format_error "SOURCE:LINE: ...".
table parse_csv(std::string_view text, const std::string& source, char delimiter = ',');
/// Parses JSON Lines objects. @throws format_error "SOURCE:LINE: ...".
table parse_jsonl_table(std::string_view text, const std::string& source);
/// A table from a JSON array of objects or {"rows": [...]}. @throws format_error.
table table_from_json(const json_value& v, const std::string& source);
/// Reads .csv, .tsv, .jsonl/.ndjson or .json by extension. @throws io_error, format_error.
table read_table(const std::string& path);

}  // namespace analysis
POLYGLOT_END_NAMESPACE
