// SPDX-License-Identifier: Apache-2.0
/// @file A small JSON document tree for the analysis inputs (reports, lighteval results, PG-score
/// rows, fitted pools, golden files), the eval tasks and results, the served requests and the
/// plugin host. Those documents are small, so a tree is simpler than simdjson's on-demand API;
/// the parser behind parse_json() is simdjson (compiled in the bottom library, src/base/json/,
/// so simdjson stays out of public headers). Numbers are stored as double.
#pragma once

#include <cstddef>
#include <functional>
#include <polyglot/core/error.hpp>
#include <polyglot/core/export.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace json {

struct json_member;

/// One JSON value. Objects keep their members in document order.
class json_value {
  public:
    using array = std::vector<json_value>;
    using object = std::vector<json_member>;

    // Defined below json_member: clang (with libstdc++ 12) instantiates the variant's
    // constructors where they are written, and needs json_member complete by then.
    json_value() = default;
    explicit json_value(bool b);
    explicit json_value(double d);
    explicit json_value(std::string s);
    explicit json_value(array a);
    explicit json_value(object o);

    [[nodiscard]] bool is_null() const noexcept { return v_.index() == 0; }
    [[nodiscard]] bool is_bool() const noexcept { return v_.index() == 1; }
    [[nodiscard]] bool is_number() const noexcept { return v_.index() == 2; }
    [[nodiscard]] bool is_string() const noexcept { return v_.index() == 3; }
    [[nodiscard]] bool is_array() const noexcept { return v_.index() == 4; }
    [[nodiscard]] bool is_object() const noexcept { return v_.index() == 5; }

    [[nodiscard]] bool as_bool() const { return std::get<bool>(v_); }
    [[nodiscard]] double as_number() const { return std::get<double>(v_); }
    [[nodiscard]] const std::string& as_string() const { return std::get<std::string>(v_); }
    [[nodiscard]] const array& as_array() const { return std::get<array>(v_); }
    [[nodiscard]] const object& as_object() const { return std::get<object>(v_); }

    /// Member @p key of an object, or nullptr (also when this is not an object).
    [[nodiscard]] const json_value* find(std::string_view key) const;
    /// Dotted path lookup ("distinct_ri.prompts_distinct_ri"), or nullptr.
    [[nodiscard]] const json_value* find_path(std::string_view dotted) const;
    /// A short name of the type ("number", "object", ...) for error messages.
    [[nodiscard]] const char* type_name() const noexcept;

  private:
    std::variant<std::nullptr_t, bool, double, std::string, array, object> v_;  // null
};

struct json_member {
    std::string key;
    json_value value;
};

inline json_value::json_value(bool b) : v_(b) {}
inline json_value::json_value(double d) : v_(d) {}
inline json_value::json_value(std::string s) : v_(std::move(s)) {}
inline json_value::json_value(array a) : v_(std::move(a)) {}
inline json_value::json_value(object o) : v_(std::move(o)) {}

inline const json_value* json_value::find(std::string_view key) const {
    if (!is_object()) return nullptr;
    for (const auto& m : as_object())
        if (m.key == key) return &m.value;
    return nullptr;
}

inline const json_value* json_value::find_path(std::string_view dotted) const {
    const json_value* cur = this;
    while (cur) {
        auto dot = dotted.find('.');
        cur = cur->find(dotted.substr(0, dot));
        if (dot == std::string_view::npos) return cur;
        dotted.remove_prefix(dot + 1);
    }
    return nullptr;
}

inline const char* json_value::type_name() const noexcept {
    static constexpr const char* names[] = {"null",   "boolean", "number",
                                            "string", "array",   "object"};
    return names[v_.index()];
}

/// Parses one JSON document. @p source names the input in error messages.
/// @throws format_error "SOURCE: invalid JSON: ...".
POLYGLOT_API json_value parse_json(std::string_view text, const std::string& source);

/// Parses JSON Lines: one value per non-blank line, with its 1-based line number. A UTF-8 BOM
/// and CRLF line ends are accepted. @throws format_error "SOURCE:LINE: invalid JSON: ...".
POLYGLOT_API std::vector<std::pair<std::size_t, json_value>> parse_json_lines(
    std::string_view text, const std::string& source);

/// Parses JSON Lines one line at a time: @p on_value gets each non-blank line's value with its
/// 1-based line number; a line that is not valid JSON goes to @p on_error (its text and the
/// format_error naming SOURCE:LINE), or is thrown when @p on_error is empty. A UTF-8 BOM and
/// CRLF line ends are accepted.
POLYGLOT_API void for_each_json_line(
    std::string_view text, const std::string& source,
    const std::function<void(std::size_t line, json_value&& value)>& on_value,
    const std::function<void(std::size_t line, std::string_view text, const format_error& e)>&
        on_error = {});

/// Reads and parses a JSON file. @throws io_error, format_error.
POLYGLOT_API json_value read_json_file(const std::string& path);

}  // namespace json

// The tree began as the analysis inputs' own (polyglot::analysis); these names keep its users
// compiling until they say json:: themselves.
namespace analysis {
using json::for_each_json_line;
using json::json_member;
using json::json_value;
using json::parse_json;
using json::parse_json_lines;
using json::read_json_file;
}  // namespace analysis
POLYGLOT_END_NAMESPACE
