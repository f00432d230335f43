// SPDX-License-Identifier: Apache-2.0
/// @file Python's object semantics over the Jinja interpreter's values, as the renderer needs them:
/// type names, truth, ==, <, hashing, slices, the str helpers behind str methods and filters, and
/// json.dumps (transformers' tojson). Defined in pyobject.cpp, pystr.cpp and pyfmt.cpp. Private to
/// src/text.
#pragma once

#include <cstdint>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/jinja.hpp"
#include "text/jinja/value.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

// ---- small helpers (pyobject.cpp) -----------------------------------------------------------

/// Python's type(v).__name__.
std::string type_name(const value& v);
/// Raises jinja2's UndefinedError (or SecurityError) for the use of undefined @p u.
[[noreturn]] void undefined_fail(const value& u);
/// jinja2's soft_str: a str as it is, anything else as Python's str().
inline std::string soft_str(const value& v) { return v.is_string() ? v.str() : py_str(v); }

inline value str_value(std::string s) { return value::string(std::move(s)); }
inline value tuple_of(std::vector<value> items) {
    return value::list(std::move(items), list_type::tuple);
}

inline bool is_seq_list(const value& v) {
    return v.kind() == vk::list &&
           (v.list().type == list_type::list || v.list().type == list_type::tuple);
}

inline std::int64_t checked(bool overflow, std::int64_t r) {
    if (overflow) unsupported("integer overflow (Python integers are unbounded)");
    return r;
}

/// Runs @p op (an __builtin_*_overflow writing to its argument) and returns the result.
template <class Op>
inline std::int64_t checked_op(Op op, std::int64_t& r) {
    const bool overflow = op(&r);
    return checked(overflow, r);
}

// ---- Python semantics: truth, equality, order, hashing (pyobject.cpp) ---------------------

bool truthy(const value& v);
/// == of two numbers (int, bool, float), exact between int and float.
bool num_eq(const value& a, const value& b);
bool py_eq(const value& a, const value& b);
[[noreturn]] void order_fail(const char* op, const value& a, const value& b);
bool py_lt(const value& a, const value& b);
bool is_hashable(const value& v);
void require_hashable(const value& v);

// ---- strings and slices (pyobject.cpp, pystr.cpp) ---------------------------------------------

std::size_t str_len(const value& s);
/// Code points of a string as values (iteration over a str).
std::vector<value> str_chars(const value& s);

/// Python's PySlice_AdjustIndices.
struct slice_idx {
    std::int64_t start, stop, step, length;
};
slice_idx adjust_slice(const value& a, const value& b, const value& c, std::int64_t len);

/// str.strip / lstrip / rstrip (@p chars: the characters to strip, nullptr = whitespace).
std::string py_strip(std::string_view s, const value* chars, bool left, bool right);
/// str.split() / str.rsplit() without a separator.
std::vector<value> py_split_ws(std::string_view s, std::int64_t maxsplit);
std::vector<value> py_rsplit_ws(std::string_view s, std::int64_t maxsplit);
/// str.replace (@p count < 0: all).
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       std::int64_t count);
/// markupsafe.escape of a str.
std::string html_escape(std::string_view s);
/// Python's float(str): strips whitespace, accepts underscores between digits, inf/nan.
bool parse_py_float(std::string_view raw, double& out);
/// Python's int(str, base) for bases 0 and 2..36 (ASCII digits only).
bool parse_py_int(std::string_view raw, std::int64_t base, std::int64_t& out);

// ---- JSON (pyfmt.cpp) -------------------------------------------------------------------------

/// json.dumps options (transformers' tojson).
struct json_opts {
    bool ensure_ascii = false;
    bool has_indent = false;
    std::string indent;
    std::string item_sep = ", ", key_sep = ": ";
    bool sort_keys = false;
};

/// json.dumps(v) at indent @p level, appended to @p out (@p depth: nesting so far).
void json_dump(const value& v, const json_opts& o, int level, std::string& out, int depth);

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
