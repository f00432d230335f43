// SPDX-License-Identifier: Apache-2.0
// The evaluator of the Jinja interpreter: jinja2 3.1's runtime semantics (frames and scoping,
// Undefined, the ImmutableSandboxedEnvironment's attribute rules, LoopContext, macros) over
// Python's object semantics (truthiness, ==, <, arithmetic, str methods, filters, tests).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <polyglot/io/json_writer.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/builtins.hpp"
#include "text/jinja/jinja.hpp"
#include "text/jinja/objects.hpp"
#include "text/jinja/pyunicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {
namespace {

using kw_list = std::vector<std::pair<std::string, value>>;

struct arglist {
    std::vector<value> pos;
    kw_list kw;
};

// ---- small helpers -----------------------------------------------------------------------

std::string type_name(const value& v) {
    switch (v.kind()) {
        case vk::undefined:
            return "Undefined";
        case vk::none:
            return "NoneType";
        case vk::boolean:
            return "bool";
        case vk::integer:
            return "int";
        case vk::floating:
            return "float";
        case vk::string:
            return v.is_markup() ? "Markup" : "str";
        case vk::list:
            switch (v.list().type) {
                case list_type::list:
                    return "list";
                case list_type::tuple:
                    return "tuple";
                case list_type::dict_items:
                    return "dict_items";
                case list_type::dict_keys:
                    return "dict_keys";
                case list_type::dict_values:
                    return "dict_values";
                case list_type::range:
                    return "range";
            }
            return "list";
        case vk::dict:
            return "dict";
        case vk::object:
            switch (v.obj().type()) {
                case object_type::ns:
                    return "Namespace";
                case object_type::macro:
                    return "Macro";
                case object_type::loop:
                    return "LoopContext";
                case object_type::generator:
                    return "generator";
                case object_type::builtin:
                    return "builtin_function_or_method";
                case object_type::bound_method:
                    return "method";
            }
    }
    return "object";
}

[[noreturn]] void undefined_fail(const value& u) {
    const undefined_obj* info = u.undef();
    if (info && info->unsafe) runtime_fail("SecurityError: " + info->hint);
    runtime_fail("UndefinedError: " + (info ? info->hint : std::string("value is undefined")));
}

value str_value(std::string s) { return value::string(std::move(s)); }
value tuple_of(std::vector<value> items) { return value::list(std::move(items), list_type::tuple); }

bool is_seq_list(const value& v) {
    return v.kind() == vk::list &&
           (v.list().type == list_type::list || v.list().type == list_type::tuple);
}

std::int64_t checked(bool overflow, std::int64_t r) {
    if (overflow) unsupported("integer overflow (Python integers are unbounded)");
    return r;
}

/// Runs @p op (an __builtin_*_overflow writing to its argument) and returns the result.
template <class Op>
std::int64_t checked_op(Op op, std::int64_t& r) {
    const bool overflow = op(&r);
    return checked(overflow, r);
}

// ---- Python semantics: truth, equality, order, hashing -----------------------------------

bool truthy(const value& v) {
    switch (v.kind()) {
        case vk::undefined:
        case vk::none:
            return false;
        case vk::boolean:
        case vk::integer:
            return v.as_int() != 0;
        case vk::floating:
            return v.as_float() != 0.0;
        case vk::string:
            return !v.str().empty();
        case vk::list:
            return !v.list().items.empty();
        case vk::dict:
            return !v.dict().items.empty();
        case vk::object:
            if (v.is_object(object_type::loop)) {
                unsupported("the truth value of a loop object is not supported");
            }
            return true;
    }
    return false;
}

bool num_eq(const value& a, const value& b) {
    if (a.is_int_like() && b.is_int_like()) return a.as_int() == b.as_int();
    const double x = a.to_double(), y = b.to_double();
    if (a.kind() == vk::floating && b.kind() == vk::floating) return x == y;
    // int vs float: exact comparison
    const value& i = a.kind() == vk::floating ? b : a;
    const double f = a.kind() == vk::floating ? x : y;
    if (!std::isfinite(f) || std::trunc(f) != f) return false;
    if (f < -9.2233720368547758e18 || f >= 9.2233720368547758e18) return false;
    return static_cast<std::int64_t>(f) == i.as_int();
}

bool py_eq(const value& a, const value& b);

bool seq_eq(const std::vector<value>& x, const std::vector<value>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t k = 0; k < x.size(); ++k)
        if (!py_eq(x[k], y[k])) return false;
    return true;
}

bool py_eq(const value& a, const value& b) {
    if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
    if (a.is_number() && b.is_number()) return num_eq(a, b);
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case vk::none:
            return true;
        case vk::string:
            return a.str() == b.str();
        case vk::list: {
            const list_obj &x = a.list(), &y = b.list();
            if (&x == &y) return true;
            const bool xs = x.type == list_type::list || x.type == list_type::tuple;
            if (xs || x.type == list_type::range) {
                if (x.type != y.type) return false;
                return seq_eq(x.items, y.items);
            }
            if (x.type == list_type::dict_values || y.type == list_type::dict_values) return false;
            unsupported("comparing dict views is not supported");
        }
        case vk::dict: {
            const auto &x = a.dict(), &y = b.dict();
            if (&x == &y) return true;
            if (x.items.size() != y.items.size()) return false;
            for (const auto& [k, v] : x.items) {
                const value* o = y.find(k);
                if (!o || !py_eq(v, *o)) return false;
            }
            return true;
        }
        case vk::object:
            return a.identity() == b.identity();
        default:
            return false;
    }
}

[[noreturn]] void order_fail(const char* op, const value& a, const value& b) {
    runtime_fail(std::string("TypeError: '") + op + "' not supported between instances of '" +
                 type_name(a) + "' and '" + type_name(b) + "'");
}

bool py_lt(const value& a, const value& b) {
    if (a.is_undefined()) undefined_fail(a);
    if (b.is_undefined()) undefined_fail(b);
    if (a.is_number() && b.is_number()) {
        if (a.is_int_like() && b.is_int_like()) return a.as_int() < b.as_int();
        const double x = a.to_double(), y = b.to_double();
        if (a.kind() == vk::floating && b.kind() == vk::floating) return x < y;
        if (std::isnan(x) || std::isnan(y)) return false;
        if (x != y) return x < y;
        // equal as doubles: decide exactly (an int beyond 2^53 may differ from the float)
        const value& i = a.kind() == vk::floating ? b : a;
        const double f = a.kind() == vk::floating ? x : y;
        if (f >= 9.2233720368547758e18) return a.kind() != vk::floating;
        if (f < -9.2233720368547758e18) return a.kind() == vk::floating;
        const auto fi = static_cast<std::int64_t>(f);
        return a.kind() == vk::floating ? fi < i.as_int() : i.as_int() < fi;
    }
    if (a.is_string() && b.is_string()) return a.str() < b.str();
    if (a.kind() == vk::list && b.kind() == vk::list && a.list().type == b.list().type &&
        (a.list().type == list_type::list || a.list().type == list_type::tuple)) {
        const auto &x = a.list().items, &y = b.list().items;
        for (std::size_t k = 0; k < x.size() && k < y.size(); ++k) {
            if (!py_eq(x[k], y[k])) return py_lt(x[k], y[k]);
        }
        return x.size() < y.size();
    }
    order_fail("<", a, b);
}

bool is_hashable(const value& v) {
    switch (v.kind()) {
        case vk::list:
            if (v.list().type == list_type::tuple) {
                for (const auto& x : v.list().items)
                    if (!is_hashable(x)) return false;
                return true;
            }
            return v.list().type == list_type::range;
        case vk::dict:
            return false;
        default:
            return true;
    }
}

void require_hashable(const value& v) {
    if (!is_hashable(v)) runtime_fail("TypeError: unhashable type: '" + type_name(v) + "'");
}

}  // namespace

const value* dict_obj::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k.is_string() && k.str() == key) return &v;
    return nullptr;
}

const value* dict_obj::find(const value& key) const {
    if (key.is_string()) return find(std::string_view(key.str()));
    for (const auto& [k, v] : items)
        if (py_eq(k, key)) return &v;
    return nullptr;
}

void nesting_limit() {
    fail(jinja_error::kind::limit,
         "containers nested deeper than " + std::to_string(max_nesting_depth) + " levels");
}

void dict_obj::set(value key, value v) {
    const std::uint32_t d = std::max(key.nesting(), v.nesting()) + 1;
    if (d > max_nesting_depth) nesting_limit();
    depth = std::max(depth, d);
    for (auto& [k, old] : items) {
        if (py_eq(k, key)) {
            old = std::move(v);
            return;
        }
    }
    items.emplace_back(std::move(key), std::move(v));
}

namespace {

// ---- strings -------------------------------------------------------------------------------

std::size_t str_len(const value& s) {
    return s.str_ascii() ? s.str().size() : count_code_points(s.str());
}

/// Code points of a string as values (iteration over a str).
std::vector<value> str_chars(const value& s) {
    std::vector<value> out;
    const std::string& t = s.str();
    out.reserve(t.size());
    for (std::size_t i = 0; i < t.size();) {
        const std::size_t start = i;
        decode_utf8(t, i);
        out.push_back(value::string(t.substr(start, i - start), false, i - start == 1));
    }
    return out;
}

/// Python's PySlice_AdjustIndices.
struct slice_idx {
    std::int64_t start, stop, step, length;
};

slice_idx adjust_slice(const value& a, const value& b, const value& c, std::int64_t len) {
    auto as_index = [](const value& v, const char* what) -> std::int64_t {
        if (v.is_int_like()) return v.as_int();
        runtime_fail(std::string("TypeError: slice indices must be integers or None (") + what +
                     ")");
    };
    std::int64_t step = 1;
    if (!c.is_none() && !c.is_undefined()) step = as_index(c, "step");
    if (step == 0) runtime_fail("ValueError: slice step cannot be zero");
    std::int64_t start, stop;
    if (a.is_none() || a.is_undefined()) {
        start = step < 0 ? len - 1 : 0;
    } else {
        start = as_index(a, "start");
        if (start < 0) {
            start += len;
            if (start < 0) start = step < 0 ? -1 : 0;
        } else if (start >= len) {
            start = step < 0 ? len - 1 : len;
        }
    }
    if (b.is_none() || b.is_undefined()) {
        stop = step < 0 ? -1 : len;
    } else {
        stop = as_index(b, "stop");
        if (stop < 0) {
            stop += len;
            if (stop < 0) stop = step < 0 ? -1 : 0;
        } else if (stop >= len) {
            stop = step < 0 ? len - 1 : len;
        }
    }
    std::int64_t n = 0;
    if (step < 0) {
        if (stop < start) n = (start - stop - 1) / (-step) + 1;
    } else if (start < stop) {
        n = (stop - start - 1) / step + 1;
    }
    return {start, stop, step, n};
}

std::string py_strip(std::string_view s, const value* chars, bool left, bool right) {
    auto in_set = [&](char32_t c) {
        if (!chars) return is_py_space(c);
        const std::string& set = chars->str();
        for (std::size_t i = 0; i < set.size();)
            if (decode_utf8(set, i) == c) return true;
        return false;
    };
    std::size_t b = 0, e = s.size();
    if (left) {
        while (b < e) {
            std::size_t j = b;
            if (!in_set(decode_utf8(s, j))) break;
            b = j;
        }
    }
    if (right) {
        while (e > b) {
            std::size_t st = e - 1;
            while (st > b && (static_cast<unsigned char>(s[st]) & 0xC0) == 0x80) --st;
            std::size_t j = st;
            if (!in_set(decode_utf8(s, j))) break;
            e = st;
        }
    }
    return std::string(s.substr(b, e - b));
}

std::vector<value> py_split_ws(std::string_view s, std::int64_t maxsplit) {
    std::vector<value> out;
    std::size_t i = 0;
    for (;;) {
        i += leading_space_bytes(s.substr(i));
        if (i >= s.size()) break;
        if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
            std::string rest(s.substr(i));
            rest.erase(rest.size() - trailing_space_bytes(rest));
            out.push_back(str_value(std::move(rest)));
            break;
        }
        std::size_t j = i;
        while (j < s.size()) {
            std::size_t k = j;
            if (is_py_space(decode_utf8(s, k))) break;
            j = k;
        }
        out.push_back(str_value(std::string(s.substr(i, j - i))));
        i = j;
    }
    return out;
}

std::vector<value> py_rsplit_ws(std::string_view s, std::int64_t maxsplit) {
    std::vector<value> out;
    std::size_t e = s.size();
    for (;;) {
        e -= trailing_space_bytes(s.substr(0, e));
        if (e == 0) break;
        if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
            const std::string_view rest = s.substr(0, e);
            out.push_back(str_value(std::string(rest.substr(leading_space_bytes(rest)))));
            break;
        }
        std::size_t b = e;
        while (b > 0) {
            std::size_t st = b - 1;
            while (st > 0 && (static_cast<unsigned char>(s[st]) & 0xC0) == 0x80) --st;
            std::size_t j = st;
            if (is_py_space(decode_utf8(s, j))) break;
            b = st;
        }
        out.push_back(str_value(std::string(s.substr(b, e - b))));
        e = b;
    }
    std::reverse(out.begin(), out.end());
    return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       std::int64_t count) {
    std::string out;
    if (old.empty()) {
        // Python inserts the replacement before every character and at the end.
        std::int64_t n = 0;
        std::size_t i = 0;
        while (i <= s.size()) {
            if (count >= 0 && n >= count) {
                out.append(s.substr(i));
                break;
            }
            out.append(repl);
            ++n;
            if (i == s.size()) break;
            const std::size_t st = i;
            decode_utf8(s, i);
            out.append(s.substr(st, i - st));
        }
        return out;
    }
    std::size_t i = 0;
    std::int64_t n = 0;
    while (count < 0 || n < count) {
        const std::size_t f = s.find(old, i);
        if (f == std::string_view::npos) break;
        out.append(s.substr(i, f - i));
        out.append(repl);
        i = f + old.size();
        ++n;
    }
    out.append(s.substr(i));
    return out;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

/// Python's float(str): strips whitespace, accepts underscores between digits, inf/nan.
bool parse_py_float(std::string_view raw, double& out) {
    std::string s = py_strip(raw, nullptr, true, true);
    if (s.empty() || !is_ascii(s)) return false;  // non-ASCII digits: not supported here
    std::string t;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 >= s.size() ||
                !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
                !std::isdigit(static_cast<unsigned char>(s[i + 1])))
                return false;
            continue;
        }
        t += s[i];
    }
    std::string low = t;
    for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view body = low;
    bool neg = false;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        neg = body[0] == '-';
        body.remove_prefix(1);
    }
    if (body == "inf" || body == "infinity") {
        out = neg ? -HUGE_VAL : HUGE_VAL;
        return true;
    }
    if (body == "nan") {
        out = neg ? -std::nan("") : std::nan("");
        return true;
    }
    // digits [. digits] [e [+-] digits], at least one digit in the mantissa
    std::size_t i = 0, nd = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++nd;
    if (i < body.size() && body[i] == '.') {
        ++i;
        while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++nd;
    }
    if (nd == 0) return false;
    if (i < body.size() && body[i] == 'e') {
        ++i;
        if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
        const std::size_t ds = i;
        while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i;
        if (i == ds) return false;
    }
    if (i != body.size()) return false;
    out = std::strtod(t.c_str(), nullptr);
    return true;
}

/// Python's int(str, base) for bases 0 and 2..36 (ASCII digits only).
bool parse_py_int(std::string_view raw, std::int64_t base, std::int64_t& out) {
    std::string s = py_strip(raw, nullptr, true, true);
    if (s.empty() || !is_ascii(s)) return false;
    std::string_view b = s;
    bool neg = false;
    if (b[0] == '+' || b[0] == '-') {
        neg = b[0] == '-';
        b.remove_prefix(1);
    }
    auto has_prefix = [&](char p) { return b.size() >= 2 && b[0] == '0' && (b[1] | 0x20) == p; };
    if (base == 0) {
        if (has_prefix('x')) {
            base = 16;
        } else if (has_prefix('o')) {
            base = 8;
        } else if (has_prefix('b')) {
            base = 2;
        } else {
            base = 10;
            // base 0 rejects leading zeros in non-zero numbers
            if (b.size() > 1 && b[0] == '0' && b.find_first_not_of("0_") != std::string_view::npos)
                return false;
        }
        if (base != 10) b.remove_prefix(2);
    } else if ((base == 16 && has_prefix('x')) || (base == 8 && has_prefix('o')) ||
               (base == 2 && has_prefix('b'))) {
        b.remove_prefix(2);
        if (!b.empty() && b[0] == '_') b.remove_prefix(1);
    }
    if (base < 2 || base > 36 || b.empty()) return false;
    unsigned __int128 v = 0;
    bool prev_digit = false;
    for (std::size_t i = 0; i < b.size(); ++i) {
        const char c = b[i];
        if (c == '_') {
            if (!prev_digit || i + 1 >= b.size()) return false;
            prev_digit = false;
            continue;
        }
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            d = (c | 0x20) - 'a' + 10;
        } else {
            return false;
        }
        if (d >= base) return false;
        v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
        if (v > static_cast<unsigned __int128>(INT64_MAX) + 1)
            unsupported("integer out of the 64-bit range");
        prev_digit = true;
    }
    if (!neg && v > static_cast<unsigned __int128>(INT64_MAX))
        unsupported("integer out of the 64-bit range");
    out = neg ? static_cast<std::int64_t>(-static_cast<__int128>(v)) : static_cast<std::int64_t>(v);
    return true;
}

// ---- JSON (transformers' tojson = json.dumps) ---------------------------------------------

struct json_opts {
    bool ensure_ascii = false;
    bool has_indent = false;
    std::string indent;
    std::string item_sep = ", ", key_sep = ": ";
    bool sort_keys = false;
};

/// json.dumps of a str: io::json_writer's escaping is Python's with ensure_ascii=False;
/// ensure_ascii also escapes DEL and every non-ASCII character (as UTF-16 \\uXXXX units).
void json_string(std::string_view s, bool ensure_ascii, std::string& out) {
    out += '"';
    if (!ensure_ascii) {
        io::json_writer::escape_to(out, s);
        out += '"';
        return;
    }
    for (std::size_t i = 0; i < s.size();) {
        std::size_t j = i;
        while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x7F) ++j;
        io::json_writer::escape_to(out, s.substr(i, j - i));
        if (j >= s.size()) break;
        const char32_t c = decode_utf8(s, j);
        char buf[16];
        if (c >= 0x10000) {
            const char32_t v = c - 0x10000;
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x",
                          static_cast<unsigned>(0xD800 | (v >> 10)),
                          static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
        } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        }
        out += buf;
        i = j;
    }
    out += '"';
}

void json_float(double d, std::string& out) {
    if (std::isnan(d)) {
        out += "NaN";
    } else if (std::isinf(d)) {
        out += d < 0 ? "-Infinity" : "Infinity";
    } else {
        py_float_repr(d, out);
    }
}

[[noreturn]] void json_type_fail(const value& v) {
    if (v.is_undefined()) undefined_fail(v);
    runtime_fail("TypeError: Object of type " + type_name(v) + " is not JSON serializable");
}

void json_newline(const json_opts& o, int level, std::string& out) {
    out += '\n';
    for (int k = 0; k < level; ++k) out += o.indent;
}

void json_dump(const value& v, const json_opts& o, int level, std::string& out, int depth) {
    if (depth > 500) fail(jinja_error::kind::limit, "JSON nesting too deep");
    switch (v.kind()) {
        case vk::none:
            out += "null";
            return;
        case vk::boolean:
            out += v.as_bool() ? "true" : "false";
            return;
        case vk::integer:
            py_str(v, out);
            return;
        case vk::floating:
            json_float(v.as_float(), out);
            return;
        case vk::string:
            json_string(v.str(), o.ensure_ascii, out);
            return;
        case vk::list: {
            if (!is_seq_list(v)) json_type_fail(v);
            const auto& items = v.list().items;
            if (items.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (std::size_t k = 0; k < items.size(); ++k) {
                if (k) out += o.item_sep;
                if (o.has_indent) json_newline(o, level + 1, out);
                json_dump(items[k], o, level + 1, out, depth + 1);
            }
            if (o.has_indent) json_newline(o, level, out);
            out += ']';
            return;
        }
        case vk::dict: {
            const auto& items = v.dict().items;
            if (items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<value, value>*> order;
            order.reserve(items.size());
            for (const auto& kv : items) order.push_back(&kv);
            if (o.sort_keys)
                std::stable_sort(order.begin(), order.end(), [](const auto* x, const auto* y) {
                    return py_lt(x->first, y->first);
                });
            out += '{';
            bool first = true;
            for (const auto* kv : order) {
                const value& k = kv->first;
                std::string key;
                switch (k.kind()) {
                    case vk::string:
                        key = k.str();
                        break;
                    case vk::none:
                        key = "null";
                        break;
                    case vk::boolean:
                        key = k.as_bool() ? "true" : "false";
                        break;
                    case vk::integer:
                        key = py_str(k);
                        break;
                    case vk::floating:
                        json_float(k.as_float(), key);
                        break;
                    default:
                        runtime_fail("TypeError: keys must be str, int, float, bool or None, not " +
                                     type_name(k));
                }
                if (!first) out += o.item_sep;
                first = false;
                if (o.has_indent) json_newline(o, level + 1, out);
                json_string(key, o.ensure_ascii, out);
                out += o.key_sep;
                json_dump(kv->second, o, level + 1, out, depth + 1);
            }
            if (o.has_indent) json_newline(o, level, out);
            out += '}';
            return;
        }
        default:
            json_type_fail(v);
    }
}

// ---- the renderer --------------------------------------------------------------------------

class renderer {
  public:
    renderer(const program& p, const render_env& e) : prog_(p), env_(e) {}
    renderer(const renderer&) = delete;
    renderer& operator=(const renderer&) = delete;
    /// A macro holds the scope it was defined in (its closure) and that scope (or one above it)
    /// holds the macro: shared_ptr cycles that jinja2 leaves to Python's garbage collector. No
    /// value outlives a render (it returns text), so the cycles are cut here.
    ~renderer() {
        for (const scope_ptr& s : closures_) {
            s->vars.clear();
            s->parent.reset();
        }
    }

    std::string run() {
        auto globals = std::make_shared<scope>();
        auto add_global = [&](const char* name, builtin_fn fn) {
            const int sym = prog_.symbol(name);
            if (sym >= 0) globals->set(sym, value::object(std::make_shared<builtin_obj>(fn)));
        };
        add_global("range", builtin_fn::range);
        add_global("dict", builtin_fn::dict);
        add_global("namespace", builtin_fn::namespace_);
        add_global("raise_exception", builtin_fn::raise_exception);
        add_global("strftime_now", builtin_fn::strftime_now);
        add_global("lipsum", builtin_fn::lipsum);
        add_global("cycler", builtin_fn::cycler);
        add_global("joiner", builtin_fn::joiner);
        auto context = std::make_shared<scope>(globals);
        for (const auto& [name, v] : env_.vars) {
            const int sym = prog_.symbol(name);
            if (sym >= 0) context->set(sym, v);
        }
        context_ = context.get();
        auto root = std::make_shared<scope>(context);
        enter_frame(*root, prog_.root_frame());
        std::string out;
        exec_body(prog_.root(), root, out);
        return out;
    }

  private:
    const program& prog_;
    const render_env& env_;
    const scope* context_ = nullptr;  ///< render variables, over the globals
    std::uint64_t steps_ = 0;
    std::size_t depth_ = 0;
    std::vector<scope_ptr> closures_;  ///< scopes that macros closed over (see ~renderer)

    void keep_closure(const scope_ptr& sc) {
        if (closures_.empty() || closures_.back() != sc) closures_.push_back(sc);
    }

    enum class flow { normal, break_, continue_ };

    value undefined_name(int sym) const {
        return value::undefined("'" + prog_.symbol_name(sym) + "' is undefined");
    }

    /// jinja2's enter_frame: initialise the names @p decls declares in @p sc.
    void enter_frame(scope& sc, const frame_decls& decls) const {
        for (const auto& d : decls) {
            switch (d.kind) {
                case load_kind::param:
                    break;
                case load_kind::resolve: {
                    const value* v = context_->find(d.symbol);
                    sc.set(d.symbol, v ? *v : undefined_name(d.symbol));
                    break;
                }
                case load_kind::alias: {
                    const value* v = sc.parent ? sc.parent->find(d.symbol) : nullptr;
                    sc.set(d.symbol, v ? *v : undefined_name(d.symbol));
                    break;
                }
                case load_kind::undefined:
                    sc.set(d.symbol, undefined_name(d.symbol));
                    break;
            }
        }
    }

    void step() {
        if (++steps_ > env_.bounds.max_steps)
            fail(jinja_error::kind::limit, "the template took too many evaluation steps");
    }
    /// Charges the evaluation budget for copying @p n elements or bytes.
    void step_n(std::size_t n) {
        steps_ += n / 64;
        step();
    }
    void check_size(std::size_t n) const {
        if (n > env_.bounds.max_output)
            fail(jinja_error::kind::limit, "the template built a string larger than " +
                                               std::to_string(env_.bounds.max_output) + " bytes");
    }
    void emit(std::string& out, std::string_view s) const {
        check_size(out.size() + s.size());
        out.append(s);
    }

    // -- statements

    flow exec_body(const body& b, const scope_ptr& sc, std::string& out) {
        for (const auto& s : b) {
            const flow f = exec(*s, sc, out);
            if (f != flow::normal) return f;
        }
        return flow::normal;
    }

    flow exec(const stmt& s, const scope_ptr& sc, std::string& out) {
        step();
        try {
            return exec_inner(s, sc, out);
        } catch (jinja_error& e) {
            if (e.pos == no_pos) e.pos = s.pos;
            throw;
        }
    }

    std::string capture(const body& b, const scope_ptr& sc) {
        std::string out;
        exec_body(b, sc, out);
        return out;
    }

    flow exec_inner(const stmt& s, const scope_ptr& sc, std::string& out) {
        switch (s.kind) {
            case sk::output:
                for (const auto& p : s.parts) {
                    if (!p.e) {
                        emit(out, p.data);
                    } else {
                        const value v = eval(*p.e, sc);
                        if (v.is_string()) {
                            emit(out, v.str());
                        } else {
                            std::string t;
                            try {
                                py_str(v, t);
                            } catch (jinja_error& e) {
                                if (e.pos == no_pos) e.pos = p.e->pos;
                                throw;
                            }
                            emit(out, t);
                        }
                    }
                }
                return flow::normal;
            case sk::if_:
                for (const auto& [test, b] : s.branches)
                    if (truthy(eval(*test, sc))) return exec_body(b, sc, out);
                return exec_body(s.else_body, sc, out);
            case sk::for_:
                return exec_for(s, sc, out);
            case sk::set:
                assign(*s.target, eval(*s.iter, sc), sc);
                return flow::normal;
            case sk::set_block: {
                value v;
                const flow f = run_block(s, sc, v);
                if (f != flow::normal) return f;
                assign(*s.target, std::move(v), sc);
                return flow::normal;
            }
            case sk::macro: {
                auto m = std::make_shared<macro_obj>();
                m->def = s.macro;
                m->closure = sc;
                keep_closure(sc);
                sc->set(s.macro->symbol, value::object(std::move(m)));
                return flow::normal;
            }
            case sk::call_block: {
                auto caller = std::make_shared<macro_obj>();
                caller->def = s.macro;
                caller->closure = sc;
                keep_closure(sc);
                const value r = eval_call(*s.call, sc, value::object(std::move(caller)));
                emit(out, py_str(r));
                return flow::normal;
            }
            case sk::filter_block: {
                value v;
                const flow f = run_block(s, sc, v);
                if (f != flow::normal) return f;
                emit(out, py_str(v));
                return flow::normal;
            }
            case sk::with: {
                auto inner = std::make_shared<scope>(sc);
                std::vector<value> vals;
                for (const auto& [t, v] : s.with_vars) vals.push_back(eval(*v, sc));
                enter_frame(*inner, s.frame);
                for (std::size_t k = 0; k < vals.size(); ++k)
                    assign(*s.with_vars[k].first, vals[k], inner);
                return exec_body(s.b, inner, out);
            }
            case sk::scope: {
                auto inner = std::make_shared<scope>(sc);
                enter_frame(*inner, s.frame);
                emit(out, capture(s.b, inner));
                return flow::normal;
            }
            case sk::break_:
                return flow::break_;
            case sk::continue_:
                return flow::continue_;
        }
        return flow::normal;
    }

    /// A set block's or filter block's body, captured in its own frame and passed through the
    /// block's filter. break/continue leave the block with nothing assigned or written: jinja2
    /// buffers the body inline, so the loop jumps before that happens.
    flow run_block(const stmt& s, const scope_ptr& sc, value& result) {
        auto inner = std::make_shared<scope>(sc);
        enter_frame(*inner, s.frame);
        std::string buf;
        const flow f = exec_body(s.b, inner, buf);
        if (f != flow::normal) return f;
        result = str_value(std::move(buf));
        if (s.filter) result = apply_filter_chain(*s.filter, std::move(result), inner);
        return flow::normal;
    }

    /// Applies a filter chain parsed over a null node (set blocks, filter blocks) to @p input.
    value apply_filter_chain(const expr& f, value input, const scope_ptr& sc) {
        value v = f.a ? apply_filter_chain(*f.a, std::move(input), sc) : std::move(input);
        return call_filter_node(f, std::move(v), sc);
    }

    flow exec_for(const stmt& s, const scope_ptr& sc, std::string& out) {
        const value iterable = eval(*s.iter, sc);
        std::vector<value> all = materialize(iterable);
        auto items = std::make_shared<list_obj>();
        if (s.test) {
            for (auto& x : all) {
                auto probe = std::make_shared<scope>(sc);
                assign(*s.target, x, probe);
                enter_frame(*probe, s.test_frame);
                if (truthy(eval(*s.test, probe))) items->items.push_back(std::move(x));
            }
        } else {
            items->items = std::move(all);
        }
        // jinja2 runs the else block unless some iteration reached the end of the body
        // (break and continue skip its "iteration happened" marker)
        bool completed = false;
        if (!items->items.empty()) run_loop(s, sc, items, out, completed);
        if (!completed && !s.else_body.empty()) {
            // after the loop, inside any enclosing loop
            auto inner = std::make_shared<scope>(sc);
            enter_frame(*inner, s.else_frame);
            return exec_body(s.else_body, inner, out);
        }
        return flow::normal;
    }

    void run_loop(const stmt& s, const scope_ptr& sc, const std::shared_ptr<list_obj>& items,
                  std::string& out, bool& completed) {
        const int loop_sym = prog_.symbol("loop");
        auto lp = std::make_shared<loop_obj>();
        lp->items = items;
        const value loop_value = value::object(lp);
        auto inner = std::make_shared<scope>(sc);
        for (std::size_t k = 0; k < items->items.size(); ++k) {
            step();
            lp->index0 = k;
            inner->vars.clear();
            assign(*s.target, items->items[k], inner);
            if (loop_sym >= 0) inner->set(loop_sym, loop_value);
            enter_frame(*inner, s.frame);
            const flow f = exec_body(s.b, inner, out);
            if (f == flow::break_) break;
            if (f == flow::normal) completed = true;
        }
    }

    void assign(const expr& target, value v, const scope_ptr& sc) {
        switch (target.kind) {
            case ek::name:
                sc->set(target.symbol, std::move(v));
                return;
            case ek::tuple: {
                std::vector<value> items = materialize(v);
                if (items.size() != target.items.size()) {
                    if (items.size() > target.items.size())
                        runtime_fail("ValueError: too many values to unpack (expected " +
                                     std::to_string(target.items.size()) + ")");
                    runtime_fail("ValueError: not enough values to unpack (expected " +
                                 std::to_string(target.items.size()) + ", got " +
                                 std::to_string(items.size()) + ")");
                }
                for (std::size_t k = 0; k < items.size(); ++k)
                    assign(*target.items[k], std::move(items[k]), sc);
                return;
            }
            case ek::nsref: {
                const value* ns = sc->find(target.symbol);
                if (!ns || !ns->is_object(object_type::ns))
                    runtime_fail(
                        "TemplateRuntimeError: cannot assign attribute on non-namespace object");
                static_cast<namespace_obj&>(ns->obj()).set(target.attr, std::move(v));
                return;
            }
            default:
                fail(jinja_error::kind::syntax, "can't assign to this expression", target.pos);
        }
    }

    // -- iteration

    std::vector<value> materialize(const value& v) {
        switch (v.kind()) {
            case vk::undefined:
                return {};
            case vk::string:
                return str_chars(v);
            case vk::list:
                return v.list().items;
            case vk::dict: {
                std::vector<value> keys;
                keys.reserve(v.dict().items.size());
                for (const auto& [k, x] : v.dict().items) keys.push_back(k);
                return keys;
            }
            case vk::object:
                if (v.is_object(object_type::generator)) {
                    auto& g = static_cast<generator_obj&>(v.obj());
                    std::vector<value> out;
                    value x;
                    while (g.next(x)) {
                        step();
                        out.push_back(std::move(x));
                    }
                    return out;
                }
                if (v.is_object(object_type::loop))
                    unsupported("iterating a loop object is not supported");
                [[fallthrough]];
            default:
                runtime_fail("TypeError: '" + type_name(v) + "' object is not iterable");
        }
    }

    /// A generator over @p v's items (Python's iter()).
    value make_iter(const value& v) {
        if (v.is_object(object_type::generator)) return v;
        auto items = std::make_shared<std::vector<value>>(materialize(v));
        auto g = std::make_shared<generator_obj>();
        std::size_t k = 0;
        g->pull = [items, k](value& out) mutable {
            if (k >= items->size()) return false;
            out = (*items)[k++];
            return true;
        };
        return value::object(std::move(g));
    }

    /// A lazily evaluated generator: @p body runs at the first pull (as a Python generator
    /// function's body does) and yields through @p out.
    template <class Fn>
    value lazy_generator(Fn fn) {
        auto g = std::make_shared<generator_obj>();
        g->pull = std::move(fn);
        return value::object(std::move(g));
    }

    // -- expressions

    value eval(const expr& e, const scope_ptr& sc) {
        step();
        try {
            return eval_inner(e, sc);
        } catch (jinja_error& err) {
            if (err.pos == no_pos) err.pos = e.pos;
            throw;
        }
    }

    value eval_inner(const expr& e, const scope_ptr& sc) {
        switch (e.kind) {
            case ek::constant:
                return e.constant;
            case ek::name: {
                const value* v = sc->find(e.symbol);
                if (v) return *v;
                return value::undefined("'" + e.name + "' is undefined");
            }
            case ek::list:
            case ek::tuple: {
                std::vector<value> items;
                items.reserve(e.items.size());
                for (const auto& x : e.items) items.push_back(eval(*x, sc));
                return value::list(std::move(items),
                                   e.kind == ek::tuple ? list_type::tuple : list_type::list);
            }
            case ek::dict: {
                auto d = std::make_shared<dict_obj>();
                for (std::size_t k = 0; k < e.items.size(); ++k) {
                    value key = eval(*e.items[k], sc);
                    require_hashable(key);
                    d->set(std::move(key), eval(*e.values[k], sc));
                }
                return value::from_dict(std::move(d));
            }
            case ek::getattr:
                return get_attr(eval(*e.a, sc), e.name);
            case ek::getitem: {
                const value obj = eval(*e.a, sc);
                if (e.b->kind == ek::slice) {
                    const expr& sl = *e.b;
                    const value a = sl.a ? eval(*sl.a, sc) : value::none();
                    const value b = sl.b ? eval(*sl.b, sc) : value::none();
                    const value c = sl.c ? eval(*sl.c, sc) : value::none();
                    // jinja2's optimizer folds a constant subscript through environment.getitem,
                    // where a failing slice is undefined; at run time a slice is a plain Python
                    // subscript that raises
                    if (is_const(*e.a) && is_const(*e.b) && slice_fails(obj))
                        return value::undefined("'" + type_name(obj) +
                                                " object' has no attribute slice");
                    return get_slice(obj, a, b, c);
                }
                return get_item(obj, eval(*e.b, sc));
            }
            case ek::slice:
                unsupported("a slice outside of a subscript");
            case ek::call:
                return eval_call(e, sc, value());
            case ek::filter: {
                value input = e.a ? eval(*e.a, sc) : value();
                return call_filter_node(e, std::move(input), sc);
            }
            case ek::test:
                return value::boolean(call_test_node(e, sc));
            case ek::not_:
                return value::boolean(!truthy(eval(*e.a, sc)));
            case ek::neg:
                return negate(eval(*e.a, sc));
            case ek::pos: {
                value v = eval(*e.a, sc);
                if (v.is_undefined()) undefined_fail(v);
                if (!v.is_number())
                    runtime_fail("TypeError: bad operand type for unary +: '" + type_name(v) + "'");
                if (v.kind() == vk::boolean) return value::integer(v.as_int());
                return v;
            }
            case ek::add:
            case ek::sub:
            case ek::mul:
            case ek::div:
            case ek::floordiv:
            case ek::mod:
            case ek::pow: {
                const value a = eval(*e.a, sc);
                const value b = eval(*e.b, sc);
                return arith(e.kind, a, b);
            }
            case ek::and_: {
                value a = eval(*e.a, sc);
                if (!truthy(a)) return a;
                return eval(*e.b, sc);
            }
            case ek::or_: {
                value a = eval(*e.a, sc);
                if (truthy(a)) return a;
                return eval(*e.b, sc);
            }
            case ek::concat: {
                std::string s;
                for (const auto& x : e.items) {
                    py_str(eval(*x, sc), s);
                    check_size(s.size());
                }
                return str_value(std::move(s));
            }
            case ek::compare: {
                value left = eval(*e.a, sc);
                for (const auto& [op, re] : e.ops) {
                    value right = eval(*re, sc);
                    if (!compare(op, left, right)) return value::boolean(false);
                    left = std::move(right);
                }
                return value::boolean(true);
            }
            case ek::condexpr:
                if (truthy(eval(*e.a, sc))) return eval(*e.b, sc);
                if (e.c) return eval(*e.c, sc);
                return value::undefined(
                    "the inline if-expression evaluated to false and no else section was "
                    "defined.");
            case ek::nsref:
                unsupported("a namespace reference outside of an assignment");
        }
        unsupported("unknown expression");
    }

    /// Whether jinja2's optimizer can fold @p e to a constant (nodes.Expr.as_const succeeds
    /// for the node kinds; values that make it raise are handled by the caller).
    static bool is_const(const expr& e) {
        switch (e.kind) {
            case ek::constant:
                return true;
            case ek::list:
            case ek::tuple:
            case ek::dict:
            case ek::concat:
                for (const auto& x : e.items)
                    if (!is_const(*x)) return false;
                for (const auto& x : e.values)
                    if (!is_const(*x)) return false;
                return true;
            case ek::slice:
            case ek::getitem:
            case ek::getattr:
            case ek::not_:
            case ek::neg:
            case ek::pos:
            case ek::add:
            case ek::sub:
            case ek::mul:
            case ek::div:
            case ek::floordiv:
            case ek::mod:
            case ek::pow:
            case ek::and_:
            case ek::or_:
            case ek::condexpr:
                return (!e.a || is_const(*e.a)) && (!e.b || is_const(*e.b)) &&
                       (!e.c || is_const(*e.c));
            case ek::compare:
                for (const auto& [op, x] : e.ops)
                    if (!is_const(*x)) return false;
                return is_const(*e.a);
            default:
                return false;
        }
    }

    /// Whether slicing @p obj raises in Python.
    static bool slice_fails(const value& obj) {
        if (obj.is_string()) return false;
        if (obj.kind() == vk::list) {
            const auto t = obj.list().type;
            return !(t == list_type::list || t == list_type::tuple || t == list_type::range);
        }
        return true;
    }

    bool compare(cmp_op op, const value& a, const value& b) {
        switch (op) {
            case cmp_op::eq:
                return py_eq(a, b);
            case cmp_op::ne:
                return !py_eq(a, b);
            case cmp_op::lt:
                return py_lt(a, b);
            case cmp_op::gt:
                return py_lt(b, a);
            case cmp_op::lteq:
                if (a.is_number() && b.is_number()) return py_lt(a, b) || num_eq(a, b);
                if (a.is_string() && b.is_string()) return a.str() <= b.str();
                if (is_seq_list(a) && is_seq_list(b) && a.list().type == b.list().type)
                    return !py_lt(b, a);
                if (a.is_undefined()) undefined_fail(a);
                if (b.is_undefined()) undefined_fail(b);
                order_fail("<=", a, b);
            case cmp_op::gteq:
                if (a.is_number() && b.is_number()) return py_lt(b, a) || num_eq(a, b);
                if (a.is_string() && b.is_string()) return a.str() >= b.str();
                if (is_seq_list(a) && is_seq_list(b) && a.list().type == b.list().type)
                    return !py_lt(a, b);
                if (a.is_undefined()) undefined_fail(a);
                if (b.is_undefined()) undefined_fail(b);
                order_fail(">=", a, b);
            case cmp_op::in:
                return contains(b, a);
            case cmp_op::notin:
                return !contains(b, a);
        }
        return false;
    }

    /// Python's `needle in hay`.
    bool contains(const value& hay, const value& needle) {
        switch (hay.kind()) {
            case vk::undefined:
                return false;
            case vk::string:
                if (!needle.is_string())
                    runtime_fail("TypeError: 'in <string>' requires string as left operand, not " +
                                 type_name(needle));
                return hay.str().find(needle.str()) != std::string::npos;
            case vk::list: {
                const auto& l = hay.list();
                if (l.type == list_type::dict_keys || l.type == list_type::dict_items)
                    require_hashable(needle);
                for (const auto& x : l.items)
                    if (py_eq(x, needle)) return true;
                return false;
            }
            case vk::dict:
                require_hashable(needle);
                return hay.dict().find(needle) != nullptr;
            case vk::object:
                if (hay.is_object(object_type::generator)) {
                    auto& g = static_cast<generator_obj&>(hay.obj());
                    value x;
                    while (g.next(x))
                        if (py_eq(x, needle)) return true;
                    return false;
                }
                [[fallthrough]];
            default:
                runtime_fail("TypeError: argument of type '" + type_name(hay) +
                             "' is not iterable");
        }
    }

    value negate(const value& v) {
        if (v.is_undefined()) undefined_fail(v);
        if (v.kind() == vk::floating) return value::floating(-v.as_float());
        if (v.is_int_like()) {
            std::int64_t r = 0;
            return value::integer(checked_op(
                [&](std::int64_t* out) { return __builtin_sub_overflow(0, v.as_int(), out); }, r));
        }
        runtime_fail("TypeError: bad operand type for unary -: '" + type_name(v) + "'");
    }

    [[noreturn]] void arith_fail(const char* op, const value& a, const value& b) {
        runtime_fail(std::string("TypeError: unsupported operand type(s) for ") + op + ": '" +
                     type_name(a) + "' and '" + type_name(b) + "'");
    }

    static double py_fmod(double x, double y, double* floordiv) {
        // CPython's float_divmod
        double mod = std::fmod(x, y);
        double div = (x - mod) / y;
        if (mod != 0) {
            if ((y < 0) != (mod < 0)) {
                mod += y;
                div -= 1.0;
            }
        } else {
            mod = std::copysign(0.0, y);
        }
        double fd;
        if (div != 0) {
            fd = std::floor(div);
            if (div - fd > 0.5) fd += 1.0;
        } else {
            fd = std::copysign(0.0, x / y);
        }
        if (floordiv) *floordiv = fd;
        return mod;
    }

    value repeat(const value& seq, std::int64_t n) {
        if (seq.is_string()) {
            if (n <= 0) return value::string("", seq.is_markup(), true);
            check_size(seq.str().size() * static_cast<std::size_t>(n));
            step_n(seq.str().size() * static_cast<std::size_t>(n));
            std::string r;
            r.reserve(seq.str().size() * static_cast<std::size_t>(n));
            for (std::int64_t k = 0; k < n; ++k) r += seq.str();
            return value::string(std::move(r), seq.is_markup(), seq.str_ascii());
        }
        const auto& l = seq.list();
        std::vector<value> r;
        if (n > 0) {
            check_size(l.items.size() * static_cast<std::size_t>(n) * sizeof(value));
            step_n(l.items.size() * static_cast<std::size_t>(n));
            for (std::int64_t k = 0; k < n; ++k) r.insert(r.end(), l.items.begin(), l.items.end());
        }
        return value::list(std::move(r), l.type);
    }

    value arith(ek op, const value& a, const value& b) {
        if (a.is_undefined()) undefined_fail(a);
        if (b.is_undefined()) undefined_fail(b);
        const char* sym = op == ek::add        ? "+"
                          : op == ek::sub      ? "-"
                          : op == ek::mul      ? "*"
                          : op == ek::div      ? "/"
                          : op == ek::floordiv ? "//"
                          : op == ek::mod      ? "%"
                                               : "**";
        if (a.is_number() && b.is_number()) {
            const bool ints = a.is_int_like() && b.is_int_like();
            const std::int64_t x = a.as_int(), y = b.as_int();
            const double fx = a.to_double(), fy = b.to_double();
            std::int64_t r = 0;
            switch (op) {
                case ek::add:
                    if (ints)
                        return value::integer(checked_op(
                            [&](std::int64_t* out) { return __builtin_add_overflow(x, y, out); },
                            r));
                    return value::floating(fx + fy);
                case ek::sub:
                    if (ints)
                        return value::integer(checked_op(
                            [&](std::int64_t* out) { return __builtin_sub_overflow(x, y, out); },
                            r));
                    return value::floating(fx - fy);
                case ek::mul:
                    if (ints)
                        return value::integer(checked_op(
                            [&](std::int64_t* out) { return __builtin_mul_overflow(x, y, out); },
                            r));
                    return value::floating(fx * fy);
                case ek::div:
                    if (fy == 0) runtime_fail("ZeroDivisionError: division by zero");
                    if (ints && (std::llabs(x) > (1LL << 53) || std::llabs(y) > (1LL << 53)))
                        unsupported("true division of integers beyond 2**53");
                    return value::floating(fx / fy);
                case ek::floordiv:
                case ek::mod:
                    if (ints) {
                        if (y == 0)
                            runtime_fail(
                                op == ek::mod
                                    ? "ZeroDivisionError: integer modulo by zero"
                                    : "ZeroDivisionError: integer division or modulo by zero");
                        if (x == INT64_MIN && y == -1) unsupported("integer overflow");
                        std::int64_t q = x / y, m = x % y;
                        if (m != 0 && ((m < 0) != (y < 0))) {
                            m += y;
                            q -= 1;
                        }
                        return value::integer(op == ek::mod ? m : q);
                    }
                    if (fy == 0)
                        runtime_fail(op == ek::mod
                                         ? "ZeroDivisionError: float modulo"
                                         : "ZeroDivisionError: float floor division by zero");
                    {
                        double fd;
                        const double m = py_fmod(fx, fy, &fd);
                        return value::floating(op == ek::mod ? m : fd);
                    }
                case ek::pow:
                    if (ints) {
                        if (y < 0) {
                            if (x == 0)
                                runtime_fail(
                                    "ZeroDivisionError: 0.0 cannot be raised to a negative power");
                            return value::floating(std::pow(fx, fy));
                        }
                        std::int64_t acc = 1, base = x, e = y;
                        bool over = false;
                        while (e > 0) {
                            if (e & 1) over |= __builtin_mul_overflow(acc, base, &acc);
                            e >>= 1;
                            if (e > 0) over |= __builtin_mul_overflow(base, base, &base);
                        }
                        return value::integer(checked(over, acc));
                    }
                    {
                        if (fx == 0 && fy < 0)
                            runtime_fail(
                                "ZeroDivisionError: 0.0 cannot be raised to a negative power");
                        if (fx < 0 && std::trunc(fy) != fy)
                            unsupported("a negative number to a fractional power (complex result)");
                        const double p = std::pow(fx, fy);
                        if (std::isinf(p) && std::isfinite(fx) && std::isfinite(fy))
                            runtime_fail("OverflowError: (34, 'Numerical result out of range')");
                        return value::floating(p);
                    }
                default:
                    break;
            }
        }
        if (op == ek::add) {
            if (a.is_string() && b.is_string()) {
                // markupsafe: Markup + str escapes the str, and the result is Markup
                const bool markup = a.is_markup() || b.is_markup();
                std::string r;
                const std::string& x = a.str();
                const std::string& y = b.str();
                check_size(x.size() + y.size());
                step_n(x.size() + y.size());
                r.reserve(x.size() + y.size());
                r += (markup && !a.is_markup()) ? html_escape(x) : x;
                r += (markup && !b.is_markup()) ? html_escape(y) : y;
                return value::string(std::move(r), markup, a.str_ascii() && b.str_ascii());
            }
            if (is_seq_list(a) && is_seq_list(b) && a.list().type == b.list().type) {
                std::vector<value> r = a.list().items;
                check_size((r.size() + b.list().items.size()) * sizeof(value));
                step_n(r.size() + b.list().items.size());
                r.insert(r.end(), b.list().items.begin(), b.list().items.end());
                return value::list(std::move(r), a.list().type);
            }
            if (is_seq_list(a) && is_seq_list(b))
                runtime_fail("TypeError: can only concatenate " + type_name(a) + " (not \"" +
                             type_name(b) + "\") to " + type_name(a));
        }
        if (op == ek::mul) {
            if ((a.is_string() || is_seq_list(a)) && b.is_int_like()) return repeat(a, b.as_int());
            if ((b.is_string() || is_seq_list(b)) && a.is_int_like()) return repeat(b, a.as_int());
        }
        if (op == ek::mod && a.is_string()) {
            if (a.is_markup()) unsupported("% formatting of Markup strings is not supported");
            // Python's str % x: a tuple gives the arguments, anything else is one argument;
            // a mapping also serves %(name)s fields
            arglist args;
            if (b.kind() == vk::list && b.list().type == list_type::tuple) {
                args.pos = b.list().items;
            } else {
                args.pos.push_back(b);
            }
            std::string r =
                printf_format(a.str(), args, b.kind() == vk::dict ? &b.dict() : nullptr);
            check_size(r.size());
            return str_value(std::move(r));
        }
        auto is_set_view = [](const value& v) {
            return v.kind() == vk::list && (v.list().type == list_type::dict_keys ||
                                            v.list().type == list_type::dict_items);
        };
        if (op == ek::sub && (is_set_view(a) || is_set_view(b)))
            unsupported("set operations on dict views are not supported");
        arith_fail(sym, a, b);
    }

    // -- attributes and items (jinja2.sandbox: getattr / getitem)

    static bool is_str_method(std::string_view n) {
        static constexpr std::string_view names[] = {
            "capitalize",   "casefold",     "center",    "count",     "encode",
            "endswith",     "expandtabs",   "find",      "format",    "format_map",
            "index",        "isalnum",      "isalpha",   "isascii",   "isdecimal",
            "isdigit",      "isidentifier", "islower",   "isnumeric", "isprintable",
            "isspace",      "istitle",      "isupper",   "join",      "ljust",
            "lower",        "lstrip",       "maketrans", "partition", "removeprefix",
            "removesuffix", "replace",      "rfind",     "rindex",    "rjust",
            "rpartition",   "rsplit",       "rstrip",    "split",     "splitlines",
            "startswith",   "strip",        "swapcase",  "title",     "translate",
            "upper",        "zfill"};
        for (auto x : names)
            if (x == n) return true;
        return false;
    }

    value bound(const value& self, std::string_view name) {
        auto m = std::make_shared<bound_method_obj>();
        m->self = self;
        m->name = std::string(name);
        return value::object(std::move(m));
    }

    static value unsafe_attr(const value& obj, std::string_view name) {
        return value::undefined("access to attribute '" + std::string(name) + "' of '" +
                                    type_name(obj) + "' object is unsafe.",
                                true);
    }

    /// Python getattr(obj, name) as the ImmutableSandboxedEnvironment allows it; sets @p found
    /// to false (and returns undefined) when Python raises AttributeError.
    value py_getattr(const value& obj, std::string_view name, bool& found) {
        found = true;
        if (name.size() >= 4 && name.substr(0, 2) == "__" && name.substr(name.size() - 2) == "__")
            return unsafe_attr(obj, name);  // dunder attributes exist and are never safe
        switch (obj.kind()) {
            case vk::string:
                if (is_str_method(name)) return bound(obj, name);
                break;
            case vk::dict:
                if (name == "items" || name == "keys" || name == "values" || name == "get" ||
                    name == "copy")
                    return bound(obj, name);
                if (name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" ||
                    name == "update")
                    return unsafe_attr(obj, name);
                if (name == "fromkeys") unsupported("dict.fromkeys is not supported");
                break;
            case vk::list:
                switch (obj.list().type) {
                    case list_type::list:
                        if (name == "append" || name == "reverse" || name == "insert" ||
                            name == "sort" || name == "extend" || name == "remove")
                            return unsafe_attr(obj, name);
                        if (name == "pop" || name == "clear" || name == "copy" || name == "count" ||
                            name == "index")
                            return bound(obj, name);
                        break;
                    case list_type::tuple:
                        if (name == "count" || name == "index") return bound(obj, name);
                        break;
                    case list_type::range:
                        if (name == "start" || name == "stop" || name == "step" ||
                            name == "count" || name == "index")
                            unsupported("range attributes are not supported");
                        break;
                    default:
                        if (name == "mapping" || name == "isdisjoint")
                            unsupported("dict view attributes are not supported");
                }
                break;
            case vk::boolean:
            case vk::integer:
                if (name == "real" || name == "imag" || name == "numerator" ||
                    name == "denominator" || name == "bit_length" || name == "bit_count" ||
                    name == "conjugate" || name == "to_bytes" || name == "from_bytes" ||
                    name == "as_integer_ratio")
                    unsupported("int attributes are not supported");
                break;
            case vk::floating:
                if (name == "real" || name == "imag" || name == "is_integer" || name == "hex" ||
                    name == "fromhex" || name == "conjugate" || name == "as_integer_ratio")
                    unsupported("float attributes are not supported");
                break;
            case vk::object:
                switch (obj.obj().type()) {
                    case object_type::ns: {
                        const value* v =
                            static_cast<const namespace_obj&>(obj.obj()).find(std::string(name));
                        if (v) return *v;
                        break;
                    }
                    case object_type::loop:
                        return loop_attr(obj, name, found);
                    case object_type::macro:
                        if (name == "name" || name == "arguments" || name == "defaults" ||
                            name == "catch_kwargs" || name == "catch_varargs" || name == "caller")
                            unsupported("macro attributes are not supported");
                        break;
                    default:
                        unsupported("attributes of this object are not supported");
                }
                break;
            default:
                break;
        }
        found = false;
        return value();
    }

    value loop_attr(const value& obj, std::string_view name, bool& found) {
        const auto& lp = static_cast<const loop_obj&>(obj.obj());
        const auto n = static_cast<std::int64_t>(lp.items->items.size());
        const auto i = static_cast<std::int64_t>(lp.index0);
        if (name == "index") return value::integer(i + 1);
        if (name == "index0") return value::integer(i);
        if (name == "revindex") return value::integer(n - i);
        if (name == "revindex0") return value::integer(n - i - 1);
        if (name == "first") return value::boolean(i == 0);
        if (name == "last") return value::boolean(i == n - 1);
        if (name == "length") return value::integer(n);
        if (name == "depth") return value::integer(1);
        if (name == "depth0") return value::integer(0);
        if (name == "previtem")
            return i > 0 ? lp.items->items[static_cast<std::size_t>(i - 1)]
                         : value::undefined("there is no previous item");
        if (name == "nextitem")
            return i + 1 < n ? lp.items->items[static_cast<std::size_t>(i + 1)]
                             : value::undefined("there is no next item");
        if (name == "cycle" || name == "changed") return bound(obj, name);
        found = false;
        return value();
    }

    static value missing_attr(const value& obj, std::string_view name) {
        return value::undefined("'" + type_name(obj) + " object' has no attribute '" +
                                std::string(name) + "'");
    }

    value get_attr(const value& obj, std::string_view name) {
        if (obj.is_undefined()) undefined_fail(obj);
        bool found;
        value v = py_getattr(obj, name, found);
        if (found) return v;
        // fall back to obj[name]
        if (obj.kind() == vk::dict) {
            const value* x = obj.dict().find(name);
            if (x) return *x;
        }
        return missing_attr(obj, name);
    }

    value get_item(const value& obj, const value& key) {
        if (obj.is_undefined()) undefined_fail(obj);
        bool lookup_failed = false;  // Python raised TypeError/LookupError
        switch (obj.kind()) {
            case vk::dict: {
                if (!is_hashable(key)) {
                    lookup_failed = true;
                    break;
                }
                const value* x = obj.dict().find(key);
                if (x) return *x;
                lookup_failed = true;
                break;
            }
            case vk::list: {
                const auto& l = obj.list();
                const bool subscriptable = l.type == list_type::list ||
                                           l.type == list_type::tuple || l.type == list_type::range;
                if (subscriptable && key.is_int_like()) {
                    std::int64_t k = key.as_int();
                    const auto n = static_cast<std::int64_t>(l.items.size());
                    if (k < 0) k += n;
                    if (k >= 0 && k < n) return l.items[static_cast<std::size_t>(k)];
                }
                lookup_failed = true;
                break;
            }
            case vk::string:
                if (key.is_int_like()) {
                    std::int64_t k = key.as_int();
                    const auto n = static_cast<std::int64_t>(str_len(obj));
                    if (k < 0) k += n;
                    if (k >= 0 && k < n) {
                        if (obj.str_ascii())
                            return value::string(obj.str().substr(static_cast<std::size_t>(k), 1),
                                                 obj.is_markup(), true);
                        const std::size_t b = byte_offset(obj.str(), static_cast<std::size_t>(k));
                        std::size_t e = b;
                        decode_utf8(obj.str(), e);
                        return value::string(obj.str().substr(b, e - b), obj.is_markup());
                    }
                }
                lookup_failed = true;
                break;
            default:
                lookup_failed = true;
        }
        (void)lookup_failed;
        if (key.is_string()) {
            bool found;
            value v = py_getattr(obj, key.str(), found);
            if (found) return v;
        }
        std::string k;
        py_repr(key, k);
        return value::undefined("'" + type_name(obj) + " object' has no attribute " + k);
    }

    value get_slice(const value& obj, const value& a, const value& b, const value& c) {
        if (obj.is_undefined()) undefined_fail(obj);
        if (obj.is_string()) {
            const std::string& s = obj.str();
            const auto n = static_cast<std::int64_t>(str_len(obj));
            const slice_idx ix = adjust_slice(a, b, c, n);
            std::string r;
            if (obj.str_ascii()) {
                for (std::int64_t k = 0, p = ix.start; k < ix.length; ++k, p += ix.step)
                    r += s[static_cast<std::size_t>(p)];
                return value::string(std::move(r), obj.is_markup(), true);
            }
            std::vector<std::pair<std::size_t, std::size_t>> cps;  // byte ranges
            for (std::size_t i = 0; i < s.size();) {
                const std::size_t st = i;
                decode_utf8(s, i);
                cps.emplace_back(st, i - st);
            }
            for (std::int64_t k = 0, p = ix.start; k < ix.length; ++k, p += ix.step) {
                const auto& [st, len] = cps[static_cast<std::size_t>(p)];
                r.append(s, st, len);
            }
            return value::string(std::move(r), obj.is_markup());
        }
        if (obj.kind() == vk::list) {
            const auto& l = obj.list();
            if (l.type == list_type::list || l.type == list_type::tuple) {
                const slice_idx ix =
                    adjust_slice(a, b, c, static_cast<std::int64_t>(l.items.size()));
                std::vector<value> r;
                r.reserve(static_cast<std::size_t>(ix.length));
                for (std::int64_t k = 0, p = ix.start; k < ix.length; ++k, p += ix.step)
                    r.push_back(l.items[static_cast<std::size_t>(p)]);
                return value::list(std::move(r), l.type);
            }
            if (l.type == list_type::range) unsupported("slicing a range is not supported");
        }
        // jinja2 compiles a slice to a plain Python subscript (no environment.getitem)
        if (obj.kind() == vk::dict) runtime_fail("TypeError: unhashable type: 'slice'");
        runtime_fail("TypeError: '" + type_name(obj) + "' object is not subscriptable");
    }

    // -- calls

    arglist eval_args(const call_args& c, const scope_ptr& sc) {
        arglist a;
        for (const auto& x : c.args) a.pos.push_back(eval(*x, sc));
        if (c.dyn_args) {
            const value d = eval(*c.dyn_args, sc);
            for (auto& x : materialize(d)) a.pos.push_back(std::move(x));
        }
        for (const auto& k : c.kwargs) a.kw.emplace_back(k.name, eval(*k.value, sc));
        if (c.dyn_kwargs) {
            const value d = eval(*c.dyn_kwargs, sc);
            if (d.kind() != vk::dict)
                runtime_fail("TypeError: argument after ** must be a mapping, not " + type_name(d));
            for (const auto& [k, v] : d.dict().items) {
                if (!k.is_string()) runtime_fail("TypeError: keywords must be strings");
                a.kw.emplace_back(k.str(), v);
            }
        }
        return a;
    }

    value eval_call(const expr& e, const scope_ptr& sc, value caller) {
        const value callee = eval(*e.a, sc);
        arglist args = eval_args(e.call, sc);
        if (!caller.is_undefined()) args.kw.emplace_back("caller", std::move(caller));
        return call_value(callee, std::move(args));
    }

    value call_value(const value& callee, arglist args) {
        if (callee.is_undefined()) undefined_fail(callee);
        if (callee.kind() == vk::object) {
            switch (callee.obj().type()) {
                case object_type::macro:
                    return call_macro(static_cast<const macro_obj&>(callee.obj()), std::move(args));
                case object_type::builtin:
                    return call_builtin(static_cast<const builtin_obj&>(callee.obj()).fn,
                                        std::move(args));
                case object_type::bound_method: {
                    const auto& m = static_cast<const bound_method_obj&>(callee.obj());
                    return call_method(m.self, m.name, std::move(args));
                }
                default:
                    break;
            }
        }
        runtime_fail("TypeError: '" + type_name(callee) + "' object is not callable");
    }

    value call_macro(const macro_obj& m, arglist args) {
        const macro_def& d = *m.def;
        if (++depth_ > env_.bounds.max_depth) {
            --depth_;
            fail(jinja_error::kind::limit, "macro calls nested too deeply");
        }
        struct depth_release {
            std::size_t& d;
            ~depth_release() { --d; }
        } release{depth_};
        auto sc = std::make_shared<scope>(m.closure);
        const std::size_t np = d.params.size();
        std::vector<bool> have(np, false);
        std::vector<value> extra_pos;
        for (std::size_t k = 0; k < args.pos.size(); ++k) {
            if (k < np) {
                sc->set(d.params[k], std::move(args.pos[k]));
                have[k] = true;
            } else {
                extra_pos.push_back(std::move(args.pos[k]));
            }
        }
        if (!extra_pos.empty() && !d.uses_varargs)
            runtime_fail("TypeError: macro '" + d.name + "' takes not more than " +
                         std::to_string(np) + " argument(s)");
        auto extra_kw = std::make_shared<dict_obj>();
        value caller;
        for (auto& [name, v] : args.kw) {
            bool matched = false;
            for (std::size_t k = 0; k < np; ++k) {
                if (d.param_names[k] == name) {
                    if (have[k])
                        runtime_fail("TypeError: macro '" + d.name +
                                     "' got multiple values for argument '" + name + "'");
                    sc->set(d.params[k], std::move(v));
                    have[k] = true;
                    matched = true;
                    break;
                }
            }
            if (matched) continue;
            if (name == "caller" && d.uses_caller) {
                caller = std::move(v);
                continue;
            }
            if (!d.uses_kwargs)
                runtime_fail("TypeError: macro '" + d.name + "' takes no keyword argument '" +
                             name + "'");
            extra_kw->set(str_value(name), std::move(v));
        }
        enter_frame(*sc, d.frame);
        const std::size_t first_default = np - d.defaults.size();
        for (std::size_t k = 0; k < np; ++k) {
            if (have[k]) continue;
            if (k >= first_default) {
                sc->set(d.params[k], eval(*d.defaults[k - first_default], sc));
            } else {
                sc->set(d.params[k],
                        value::undefined("parameter '" + d.param_names[k] + "' was not provided"));
            }
        }
        if (d.uses_varargs) {
            const int sym = prog_.symbol("varargs");
            if (sym >= 0) sc->set(sym, tuple_of(std::move(extra_pos)));
        }
        if (d.uses_kwargs) {
            const int sym = prog_.symbol("kwargs");
            if (sym >= 0) sc->set(sym, value::from_dict(extra_kw));
        }
        if (d.uses_caller) {
            const int sym = prog_.symbol("caller");
            if (sym >= 0)
                sc->set(sym,
                        caller.is_undefined() ? value::undefined("No caller defined") : caller);
        }
        std::string out;
        exec_body(d.b, sc, out);
        return str_value(std::move(out));
    }

    struct param {
        const char* name;
        bool required;
    };

    /// Binds Python-style arguments to @p params (in order); missing optional ones stay
    /// undefined-kind with has=false.
    std::vector<std::pair<bool, value>> bind(const char* fn, arglist& a,
                                             std::initializer_list<param> params) {
        std::vector<std::pair<bool, value>> out(params.size());
        const auto* p = params.begin();
        if (a.pos.size() > params.size())
            runtime_fail(std::string("TypeError: ") + fn + "() takes at most " +
                         std::to_string(params.size()) + " arguments (" +
                         std::to_string(a.pos.size()) + " given)");
        for (std::size_t k = 0; k < a.pos.size(); ++k) out[k] = {true, std::move(a.pos[k])};
        for (auto& [name, v] : a.kw) {
            std::size_t k = 0;
            for (; k < params.size(); ++k)
                if (name == p[k].name) break;
            if (k == params.size())
                runtime_fail(std::string("TypeError: ") + fn +
                             "() got an unexpected keyword argument '" + name + "'");
            if (out[k].first)
                runtime_fail(std::string("TypeError: ") + fn +
                             "() got multiple values for argument '" + name + "'");
            out[k] = {true, std::move(v)};
        }
        for (std::size_t k = 0; k < params.size(); ++k)
            if (p[k].required && !out[k].first)
                runtime_fail(std::string("TypeError: ") + fn + "() missing required argument '" +
                             p[k].name + "'");
        return out;
    }

    static std::int64_t int_arg(const value& v, const char* what) {
        if (v.is_int_like()) return v.as_int();
        if (v.is_undefined()) undefined_fail(v);
        runtime_fail(std::string("TypeError: ") + what + " must be an integer, not " +
                     type_name(v));
    }

    static const std::string& str_arg(const value& v, const char* what) {
        if (v.is_string()) return v.str();
        if (v.is_undefined()) undefined_fail(v);
        runtime_fail(std::string("TypeError: ") + what + " must be str, not " + type_name(v));
    }

    value call_builtin(builtin_fn fn, arglist a) {
        switch (fn) {
            case builtin_fn::range: {
                if (!a.kw.empty()) runtime_fail("TypeError: range() takes no keyword arguments");
                if (a.pos.empty() || a.pos.size() > 3)
                    runtime_fail("TypeError: range expected 1 to 3 arguments");
                std::int64_t start = 0, stop, step = 1;
                if (a.pos.size() == 1) {
                    stop = int_arg(a.pos[0], "range() argument");
                } else {
                    start = int_arg(a.pos[0], "range() argument");
                    stop = int_arg(a.pos[1], "range() argument");
                    if (a.pos.size() == 3) step = int_arg(a.pos[2], "range() argument");
                }
                if (step == 0) runtime_fail("ValueError: range() arg 3 must not be zero");
                std::int64_t n = 0;
                if (step > 0 && start < stop) n = (stop - start - 1) / step + 1;
                if (step < 0 && start > stop) n = (start - stop - 1) / (-step) + 1;
                if (n > 100000)
                    runtime_fail(
                        "OverflowError: Range too big. The sandbox blocks ranges larger than "
                        "MAX_RANGE (100000).");
                auto l = std::make_shared<list_obj>();
                l->type = list_type::range;
                l->range_start = start;
                l->range_stop = stop;
                l->range_step = step;
                for (std::int64_t k = 0; k < n; ++k)
                    l->items.push_back(value::integer(start + k * step));
                return value::from_list(std::move(l));
            }
            case builtin_fn::dict:
            case builtin_fn::namespace_: {
                auto d = std::make_shared<dict_obj>();
                if (a.pos.size() > 1) runtime_fail("TypeError: dict expected at most 1 argument");
                if (a.pos.size() == 1) {
                    const value& src = a.pos[0];
                    if (src.kind() == vk::dict) {
                        for (const auto& [k, v] : src.dict().items) d->set(k, v);
                    } else {
                        for (const auto& item : materialize(src)) {
                            std::vector<value> kv = materialize(item);
                            if (kv.size() != 2)
                                runtime_fail(
                                    "ValueError: dictionary update sequence element has "
                                    "wrong length");
                            require_hashable(kv[0]);
                            d->set(kv[0], kv[1]);
                        }
                    }
                }
                for (auto& [k, v] : a.kw) d->set(str_value(k), std::move(v));
                if (fn == builtin_fn::dict) return value::from_dict(std::move(d));
                auto ns = std::make_shared<namespace_obj>();
                for (auto& [k, v] : d->items) {
                    if (!k.is_string()) unsupported("namespace attributes must be strings");
                    ns->set(k.str(), v);
                }
                return value::object(std::move(ns));
            }
            case builtin_fn::raise_exception: {
                auto b = bind("raise_exception", a, {{"message", true}});
                fail(jinja_error::kind::raised, py_str(b[0].second));
            }
            case builtin_fn::strftime_now: {
                auto b = bind("strftime_now", a, {{"format", true}});
                return str_value(strftime_now(str_arg(b[0].second, "format")));
            }
            case builtin_fn::lipsum:
            case builtin_fn::cycler:
            case builtin_fn::joiner:
                unsupported("lipsum, cycler and joiner are not supported");
        }
        unsupported("unknown function");
    }

    std::string strftime_now(const std::string& fmt) const {
        std::tm tm{};
        long micro = 0;
        if (env_.now) {
            tm = *env_.now;
        } else {
            const auto now = std::chrono::system_clock::now();
            const std::time_t t = std::chrono::system_clock::to_time_t(now);
            localtime_r(&t, &tm);
            micro = static_cast<long>(
                std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch())
                    .count() %
                1000000);
        }
        // Python's datetime.strftime: %f, and %z / %Z of a naive datetime, are its own.
        std::string f;
        for (std::size_t i = 0; i < fmt.size(); ++i) {
            if (fmt[i] == '%' && i + 1 < fmt.size()) {
                const char c = fmt[i + 1];
                if (c == 'f') {
                    char b[16];
                    std::snprintf(b, sizeof b, "%06ld", micro);
                    f += b;
                    ++i;
                    continue;
                }
                if (c == 'z' || c == 'Z') {
                    ++i;
                    continue;
                }
                f += fmt[i];
                f += c;
                ++i;
                continue;
            }
            f += fmt[i];
        }
        if (f.empty()) return {};
        std::string out(256 + f.size() * 8, '\0');
        const std::size_t n = std::strftime(out.data(), out.size(), f.c_str(), &tm);
        if (n == 0) unsupported("strftime_now: the format produced no output or is too long");
        out.resize(n);
        return out;
    }

    // -- methods of str, list, dict, loop

    value call_method(const value& self, const std::string& name, arglist a) {
        switch (self.kind()) {
            case vk::string:
                return str_method(self, name, a);
            case vk::list:
                return list_method(self, name, a);
            case vk::dict:
                return dict_method(self, name, a);
            case vk::object:
                if (self.is_object(object_type::loop)) return loop_method(self, name, a);
                break;
            default:
                break;
        }
        unsupported("method '" + name + "' is not supported");
    }

    value loop_method(const value& self, const std::string& name, arglist& a) {
        auto& lp = static_cast<loop_obj&>(self.obj());
        if (!a.kw.empty()) runtime_fail("TypeError: " + name + "() takes no keyword arguments");
        if (name == "cycle") {
            if (a.pos.empty()) runtime_fail("TypeError: no items for cycling given");
            return a.pos[lp.index0 % a.pos.size()];
        }
        // changed(*value)
        value args = tuple_of(std::move(a.pos));
        if (!lp.has_changed || !py_eq(lp.last_changed, args)) {
            lp.last_changed = std::move(args);
            lp.has_changed = true;
            return value::boolean(true);
        }
        return value::boolean(false);
    }

    value dict_method(const value& self, const std::string& name, arglist& a) {
        const dict_obj& d = self.dict();
        if (name == "get") {
            if (!a.kw.empty()) runtime_fail("TypeError: get() takes no keyword arguments");
            if (a.pos.empty() || a.pos.size() > 2)
                runtime_fail("TypeError: get expected 1 or 2 arguments");
            require_hashable(a.pos[0]);
            const value* v = d.find(a.pos[0]);
            if (v) return *v;
            return a.pos.size() == 2 ? a.pos[1] : value::none();
        }
        if (!a.pos.empty() || !a.kw.empty())
            runtime_fail("TypeError: dict." + name + "() takes no arguments");
        if (name == "copy") {
            auto c = std::make_shared<dict_obj>(d);
            return value::from_dict(std::move(c));
        }
        std::vector<value> items;
        items.reserve(d.items.size());
        for (const auto& [k, v] : d.items) {
            if (name == "items") {
                items.push_back(tuple_of({k, v}));
            } else if (name == "keys") {
                items.push_back(k);
            } else {
                items.push_back(v);
            }
        }
        return value::list(std::move(items), name == "items"  ? list_type::dict_items
                                             : name == "keys" ? list_type::dict_keys
                                                              : list_type::dict_values);
    }

    value list_method(const value& self, const std::string& name, arglist& a) {
        list_obj& l = self.list();
        if (name == "pop") {
            auto b = bind("pop", a, {{"index", false}});
            if (l.items.empty()) runtime_fail("IndexError: pop from empty list");
            std::int64_t k = b[0].first ? int_arg(b[0].second, "pop index")
                                        : static_cast<std::int64_t>(l.items.size()) - 1;
            const auto n = static_cast<std::int64_t>(l.items.size());
            if (k < 0) k += n;
            if (k < 0 || k >= n) runtime_fail("IndexError: pop index out of range");
            value v = std::move(l.items[static_cast<std::size_t>(k)]);
            l.items.erase(l.items.begin() + k);
            return v;
        }
        if (name == "clear") {
            bind("clear", a, {});
            l.items.clear();
            return value::none();
        }
        if (name == "copy") {
            bind("copy", a, {});
            return value::list(l.items, l.type);
        }
        if (name == "count") {
            auto b = bind("count", a, {{"value", true}});
            std::int64_t n = 0;
            for (const auto& x : l.items) n += py_eq(x, b[0].second);
            return value::integer(n);
        }
        if (name == "index") {
            if (a.pos.size() != 1 || !a.kw.empty())
                unsupported("index() with start/stop arguments is not supported");
            for (std::size_t k = 0; k < l.items.size(); ++k)
                if (py_eq(l.items[k], a.pos[0]))
                    return value::integer(static_cast<std::int64_t>(k));
            runtime_fail("ValueError: value is not in list");
        }
        unsupported("list method '" + name + "' is not supported");
    }

    value str_result(std::string s, const value& self) {
        // markupsafe wraps str methods so that they return Markup for a Markup receiver
        check_size(s.size());
        return value::string(std::move(s), self.is_markup());
    }

    value str_method(const value& self, const std::string& name, arglist& a) {
        const std::string& s = self.str();
        if (name == "strip" || name == "lstrip" || name == "rstrip") {
            auto b = bind(name.c_str(), a, {{"chars", false}});
            const value* chars = nullptr;
            if (b[0].first && !b[0].second.is_none()) {
                str_arg(b[0].second, "strip arg");
                chars = &b[0].second;
            }
            return str_result(py_strip(s, chars, name != "rstrip", name != "lstrip"), self);
        }
        if (name == "split" || name == "rsplit") {
            auto b = bind(name.c_str(), a, {{"sep", false}, {"maxsplit", false}});
            const std::int64_t maxsplit = b[1].first ? int_arg(b[1].second, "maxsplit") : -1;
            if (!b[0].first || b[0].second.is_none())
                return value::list(name == "split" ? py_split_ws(s, maxsplit)
                                                   : py_rsplit_ws(s, maxsplit));
            const std::string& sep = str_arg(b[0].second, "sep");
            if (sep.empty()) runtime_fail("ValueError: empty separator");
            std::vector<value> out;
            if (name == "split") {
                std::size_t i = 0;
                for (;;) {
                    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) break;
                    const std::size_t f = s.find(sep, i);
                    if (f == std::string::npos) break;
                    out.push_back(str_value(s.substr(i, f - i)));
                    i = f + sep.size();
                }
                out.push_back(str_value(s.substr(i)));
            } else {
                std::size_t e = s.size();
                for (;;) {
                    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) break;
                    if (e < sep.size()) break;
                    const std::size_t f = s.rfind(sep, e - sep.size());
                    if (f == std::string::npos) break;
                    out.push_back(str_value(s.substr(f + sep.size(), e - f - sep.size())));
                    e = f;
                }
                out.push_back(str_value(s.substr(0, e)));
                std::reverse(out.begin(), out.end());
            }
            return value::list(std::move(out));
        }
        if (name == "startswith" || name == "endswith") {
            if (a.pos.size() != 1 || !a.kw.empty())
                unsupported(name + "() with start/end arguments is not supported");
            std::vector<value> cands;
            if (a.pos[0].is_string()) {
                cands.push_back(a.pos[0]);
            } else if (a.pos[0].kind() == vk::list && a.pos[0].list().type == list_type::tuple) {
                cands = a.pos[0].list().items;
            } else {
                runtime_fail("TypeError: " + name +
                             " first arg must be str or a tuple of str, not " +
                             type_name(a.pos[0]));
            }
            for (const auto& c : cands) {
                const std::string& p = str_arg(c, "tuple for startswith must only contain str");
                if (p.size() > s.size()) continue;
                if (name == "startswith" ? s.compare(0, p.size(), p) == 0
                                         : s.compare(s.size() - p.size(), p.size(), p) == 0)
                    return value::boolean(true);
            }
            return value::boolean(false);
        }
        if (name == "lower" || name == "upper" || name == "title" || name == "capitalize" ||
            name == "swapcase" || name == "casefold") {
            bind(name.c_str(), a, {});
            if (name == "lower") return str_result(py_lower(s), self);
            if (name == "upper") return str_result(py_upper(s), self);
            if (name == "title") return str_result(py_title(s), self);
            if (name == "capitalize") return str_result(py_capitalize(s), self);
            if (name == "swapcase") return str_result(py_swapcase(s), self);
            if (self.str_ascii()) return str_result(py_lower(s), self);
            unsupported("casefold() of non-ASCII text is not supported");
        }
        if (name == "replace") {
            auto b = bind("replace", a, {{"old", true}, {"new", true}, {"count", false}});
            const std::int64_t count = b[2].first ? int_arg(b[2].second, "count") : -1;
            std::string r = py_replace(s, str_arg(b[0].second, "replace() argument 1"),
                                       str_arg(b[1].second, "replace() argument 2"), count);
            return str_result(std::move(r), self);
        }
        if (name == "find" || name == "rfind" || name == "index" || name == "rindex" ||
            name == "count") {
            if (a.pos.size() != 1 || !a.kw.empty())
                unsupported(name + "() with start/end arguments is not supported");
            const std::string& sub = str_arg(a.pos[0], "must be str");
            if (name == "count") {
                if (sub.empty())
                    return value::integer(static_cast<std::int64_t>(str_len(self)) + 1);
                std::int64_t n = 0;
                for (std::size_t i = s.find(sub); i != std::string::npos;
                     i = s.find(sub, i + sub.size()))
                    ++n;
                return value::integer(n);
            }
            const std::size_t f = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
            if (f == std::string::npos) {
                if (name == "index" || name == "rindex")
                    runtime_fail("ValueError: substring not found");
                return value::integer(-1);
            }
            return value::integer(static_cast<std::int64_t>(count_code_points(s.substr(0, f))));
        }
        if (name == "join") {
            auto b = bind("join", a, {{"iterable", true}});
            std::string r;
            bool first = true;
            for (const auto& x : materialize(b[0].second)) {
                if (!x.is_string())
                    runtime_fail("TypeError: sequence item: expected str instance, " +
                                 type_name(x) + " found");
                if (!first) r += s;
                first = false;
                r += x.str();
                check_size(r.size());
            }
            return str_result(std::move(r), self);
        }
        if (name == "splitlines") {
            auto b = bind("splitlines", a, {{"keepends", false}});
            const bool keep = b[0].first && truthy(b[0].second);
            std::vector<value> out;
            std::size_t i = 0, start = 0;
            while (i < s.size()) {
                const std::size_t at = i;
                const char32_t c = decode_utf8(s, i);
                if (!is_py_linebreak(c)) continue;
                std::size_t end = i;
                if (c == '\r' && i < s.size() && s[i] == '\n') end = ++i;
                out.push_back(str_value(s.substr(start, (keep ? end : at) - start)));
                start = i;
            }
            if (start < s.size()) out.push_back(str_value(s.substr(start)));
            return value::list(std::move(out));
        }
        if (name == "isspace" || name == "isalpha" || name == "isdigit" || name == "isalnum" ||
            name == "isdecimal" || name == "isnumeric" || name == "islower" || name == "isupper" ||
            name == "istitle" || name == "isascii") {
            bind(name.c_str(), a, {});
            if (name == "isspace")
                return value::boolean(!s.empty() && leading_space_bytes(s) == s.size());
            if (name == "isascii") return value::boolean(self.str_ascii());
            if (name == "isalpha") return value::boolean(py_isalpha(s));
            if (name == "isdigit") return value::boolean(py_isdigit(s));
            if (name == "isalnum") return value::boolean(py_isalnum(s));
            if (name == "isdecimal") return value::boolean(py_isdecimal(s));
            if (name == "isnumeric") return value::boolean(py_isnumeric(s));
            if (name == "islower") return value::boolean(py_islower(s));
            if (name == "isupper") return value::boolean(py_isupper(s));
            return value::boolean(py_istitle(s));
        }
        if (name == "removeprefix" || name == "removesuffix") {
            auto b = bind(name.c_str(), a, {{"affix", true}});
            const std::string& p = str_arg(b[0].second, name.c_str());
            if (name == "removeprefix" && s.compare(0, p.size(), p) == 0 && p.size() <= s.size())
                return str_result(s.substr(p.size()), self);
            if (name == "removesuffix" && !p.empty() && p.size() <= s.size() &&
                s.compare(s.size() - p.size(), p.size(), p) == 0)
                return str_result(s.substr(0, s.size() - p.size()), self);
            return self;
        }
        if (name == "partition" || name == "rpartition") {
            auto b = bind(name.c_str(), a, {{"sep", true}});
            const std::string& sep = str_arg(b[0].second, "sep");
            if (sep.empty()) runtime_fail("ValueError: empty separator");
            const std::size_t f = name == "partition" ? s.find(sep) : s.rfind(sep);
            if (f == std::string::npos) {
                if (name == "partition") return tuple_of({self, str_value(""), str_value("")});
                return tuple_of({str_value(""), str_value(""), self});
            }
            return tuple_of(
                {str_value(s.substr(0, f)), str_value(sep), str_value(s.substr(f + sep.size()))});
        }
        if (name == "center" || name == "ljust" || name == "rjust") {
            if (a.pos.size() != 1 || !a.kw.empty())
                unsupported(name + "() with a fill character is not supported");
            return str_result(pad(s, str_len(self), int_arg(a.pos[0], "width"), name), self);
        }
        if (name == "zfill") {
            auto b = bind("zfill", a, {{"width", true}});
            const std::int64_t width = int_arg(b[0].second, "width");
            const auto n = static_cast<std::int64_t>(str_len(self));
            if (width <= n) return self;
            std::string fill(static_cast<std::size_t>(width - n), '0');
            if (!s.empty() && (s[0] == '+' || s[0] == '-'))
                return str_result(s.substr(0, 1) + fill + s.substr(1), self);
            return str_result(fill + s, self);
        }
        if (name == "format") return str_result(str_format(s, a), self);
        unsupported("str." + name + "() is not supported");
    }

    std::string pad(const std::string& s, std::size_t len, std::int64_t width,
                    const std::string& how) {
        if (width <= static_cast<std::int64_t>(len)) return s;
        check_size(static_cast<std::size_t>(width));
        const auto marg = static_cast<std::size_t>(width) - len;
        std::size_t left;
        if (how == "ljust") {
            left = 0;
        } else if (how == "rjust") {
            left = marg;
        } else {
            left = marg / 2 + (marg & static_cast<std::size_t>(width) & 1);
        }
        return std::string(left, ' ') + s + std::string(marg - left, ' ');
    }

    /// str.format with plain `{}`, `{0}` and `{name}` fields (no conversions or format specs).
    std::string str_format(const std::string& s, const arglist& a) {
        std::string out;
        std::size_t auto_idx = 0;
        bool manual = false, automatic = false;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const char c = s[i];
            if (c == '{') {
                if (i + 1 < s.size() && s[i + 1] == '{') {
                    out += '{';
                    ++i;
                    continue;
                }
                const std::size_t close = s.find('}', i);
                if (close == std::string::npos)
                    runtime_fail("ValueError: Single '{' encountered in format string");
                const std::string field = s.substr(i + 1, close - i - 1);
                if (field.find_first_of(":!.[{") != std::string::npos)
                    unsupported(
                        "str.format fields with conversions, specs or lookups are not "
                        "supported");
                const value* v = nullptr;
                if (field.empty()) {
                    if (manual)
                        runtime_fail(
                            "ValueError: cannot switch from manual field specification "
                            "to automatic field numbering");
                    automatic = true;
                    if (auto_idx >= a.pos.size())
                        runtime_fail("IndexError: Replacement index " + std::to_string(auto_idx) +
                                     " out of range for positional args tuple");
                    v = &a.pos[auto_idx++];
                } else if (std::all_of(field.begin(), field.end(),
                                       [](char ch) { return ch >= '0' && ch <= '9'; })) {
                    if (automatic)
                        runtime_fail(
                            "ValueError: cannot switch from automatic field numbering "
                            "to manual field specification");
                    manual = true;
                    const std::size_t k = std::stoul(field);
                    if (k >= a.pos.size())
                        runtime_fail("IndexError: Replacement index " + field +
                                     " out of range for positional args tuple");
                    v = &a.pos[k];
                } else {
                    for (const auto& [n, x] : a.kw)
                        if (n == field) v = &x;
                    if (!v) runtime_fail("KeyError: '" + field + "'");
                }
                if (v->is_undefined()) undefined_fail(*v);
                py_str(*v, out);
                i = close;
            } else if (c == '}') {
                if (i + 1 < s.size() && s[i + 1] == '}') {
                    out += '}';
                    ++i;
                    continue;
                }
                runtime_fail("ValueError: Single '}' encountered in format string");
            } else {
                out += c;
            }
        }
        return out;
    }

    // -- filters

    /// jinja2's make_attrgetter: dotted path, integer parts looked up as integers, getitem
    /// semantics.
    value attr_path(const value& item, const value& attribute) {
        if (attribute.is_none()) return item;
        if (!attribute.is_string()) return get_item(item, attribute);
        value cur = item;
        const std::string& a = attribute.str();
        std::size_t i = 0;
        for (;;) {
            const std::size_t dot = a.find('.', i);
            const std::string part =
                a.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
            const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
                return c >= '0' && c <= '9';
            });
            if (digits) {
                std::int64_t k;
                if (!parse_py_int(part, 10, k)) unsupported("attribute index out of range");
                cur = get_item(cur, value::integer(k));
            } else {
                cur = get_item(cur, str_value(part));
            }
            if (dot == std::string::npos) break;
            i = dot + 1;
        }
        return cur;
    }

    static value ignore_case(value v) {
        if (v.is_string()) return str_value(py_lower(v.str()));
        return v;
    }

    value call_filter_node(const expr& e, value input, const scope_ptr& sc) {
        arglist args = eval_args(e.call, sc);
        if (e.builtin < 0)
            runtime_fail("TemplateRuntimeError: No filter named '" + e.name + "' found.");
        return call_filter(static_cast<filter_kind>(e.builtin), e.name, std::move(input),
                           std::move(args));
    }

    value call_filter_by_name(const value& name, value input, arglist args) {
        const std::string& n = str_arg(name, "filter name");
        const int id = filter_id(n);
        if (id < 0) runtime_fail("TemplateRuntimeError: No filter named '" + n + "'.");
        return call_filter(static_cast<filter_kind>(id), n, std::move(input), std::move(args));
    }

    std::size_t py_len(const value& v) {
        switch (v.kind()) {
            case vk::undefined:
                return 0;
            case vk::string:
                return str_len(v);
            case vk::list:
                return v.list().items.size();
            case vk::dict:
                return v.dict().items.size();
            case vk::object:
                if (v.is_object(object_type::loop))
                    return static_cast<const loop_obj&>(v.obj()).items->items.size();
                [[fallthrough]];
            default:
                runtime_fail("TypeError: object of type '" + type_name(v) + "' has no len()");
        }
    }

    static std::string soft_str(const value& v) { return v.is_string() ? v.str() : py_str(v); }

    value call_filter(filter_kind f, const std::string& name, value in, arglist a) {
        using fk = filter_kind;
        switch (f) {
            case fk::abs: {
                bind("abs", a, {});
                if (in.is_undefined()) undefined_fail(in);
                if (in.kind() == vk::floating) return value::floating(std::fabs(in.as_float()));
                if (in.is_int_like()) {
                    if (in.as_int() == INT64_MIN) unsupported("integer overflow");
                    return value::integer(std::llabs(in.as_int()));
                }
                runtime_fail("TypeError: bad operand type for abs(): '" + type_name(in) + "'");
            }
            case fk::capitalize:
                bind(name.c_str(), a, {});
                return value::string(py_capitalize(soft_str(in)), in.is_markup());
            case fk::lower:
                bind(name.c_str(), a, {});
                return value::string(py_lower(soft_str(in)), in.is_markup());
            case fk::upper:
                bind(name.c_str(), a, {});
                return value::string(py_upper(soft_str(in)), in.is_markup());
            case fk::title: {
                bind(name.c_str(), a, {});
                return value::string(jinja_title(soft_str(in)), in.is_markup());
            }
            case fk::center: {
                auto b = bind("center", a, {{"width", false}});
                const std::string s = soft_str(in);
                const std::int64_t w = b[0].first ? int_arg(b[0].second, "width") : 80;
                return value::string(pad(s, count_code_points(s), w, "center"), in.is_markup());
            }
            case fk::count:
            case fk::length:
                bind(name.c_str(), a, {});
                return value::integer(static_cast<std::int64_t>(py_len(in)));
            case fk::default_: {
                auto b = bind("default", a, {{"default_value", false}, {"boolean", false}});
                const bool boolean = b[1].first && truthy(b[1].second);
                if (in.is_undefined() || (boolean && !truthy(in)))
                    return b[0].first ? b[0].second : str_value("");
                return in;
            }
            case fk::dictsort: {
                auto b = bind("dictsort", a,
                              {{"case_sensitive", false}, {"by", false}, {"reverse", false}});
                const bool cs = b[0].first && truthy(b[0].second);
                int pos = 0;
                if (b[1].first) {
                    if (b[1].second.is_string() && b[1].second.str() == "value") {
                        pos = 1;
                    } else if (!(b[1].second.is_string() && b[1].second.str() == "key")) {
                        runtime_fail(
                            "FilterArgumentError: You can only sort by either \"key\" or "
                            "\"value\"");
                    }
                }
                const bool rev = b[2].first && truthy(b[2].second);
                if (in.kind() != vk::dict)
                    runtime_fail("AttributeError: '" + type_name(in) +
                                 "' object has no attribute 'items'");
                std::vector<value> items;
                for (const auto& [k, v] : in.dict().items) items.push_back(tuple_of({k, v}));
                auto key = [&](const value& t) {
                    const value& x = t.list().items[static_cast<std::size_t>(pos)];
                    return cs ? x : ignore_case(x);
                };
                sort_values(items, key, rev);
                return value::list(std::move(items));
            }
            case fk::escape: {
                bind(name.c_str(), a, {});
                if (in.is_markup()) return in;
                return value::string(html_escape(soft_str(in)), true);
            }
            case fk::forceescape: {
                bind(name.c_str(), a, {});
                return value::string(html_escape(soft_str(in)), true);
            }
            case fk::first: {
                bind("first", a, {});
                if (in.is_object(object_type::generator)) {
                    value x;
                    if (static_cast<generator_obj&>(in.obj()).next(x)) return x;
                    return value::undefined("No first item, sequence was empty.");
                }
                if (in.is_string()) {
                    if (in.str().empty())
                        return value::undefined("No first item, sequence was empty.");
                    return get_item(in, value::integer(0));
                }
                std::vector<value> items = materialize(in);
                if (items.empty()) return value::undefined("No first item, sequence was empty.");
                return items[0];
            }
            case fk::last: {
                bind("last", a, {});
                if (in.is_object(object_type::generator))
                    runtime_fail("TypeError: 'generator' object is not reversible");
                if (in.is_undefined()) return value::undefined("No last item, sequence was empty.");
                if (in.is_string()) {
                    if (in.str().empty())
                        return value::undefined("No last item, sequence was empty.");
                    return get_item(in, value::integer(-1));
                }
                std::vector<value> items = materialize(in);
                if (items.empty()) return value::undefined("No last item, sequence was empty.");
                return items.back();
            }
            case fk::float_: {
                auto b = bind("float", a, {{"default", false}});
                const value def = b[0].first ? b[0].second : value::floating(0.0);
                if (in.is_undefined()) undefined_fail(in);
                if (in.is_number()) return value::floating(in.to_double());
                if (in.is_string()) {
                    double d;
                    if (parse_py_float(in.str(), d)) return value::floating(d);
                    if (!is_ascii(in.str())) unsupported("float() of non-ASCII text");
                }
                return def;
            }
            case fk::int_: {
                auto b = bind("int", a, {{"default", false}, {"base", false}});
                const value def = b[0].first ? b[0].second : value::integer(0);
                const std::int64_t base = b[1].first ? int_arg(b[1].second, "base") : 10;
                if (in.is_undefined()) undefined_fail(in);
                if (in.is_int_like()) return value::integer(in.as_int());
                if (in.kind() == vk::floating) {
                    const double d = in.as_float();
                    if (std::isnan(d)) return def;
                    if (std::isinf(d))
                        runtime_fail("OverflowError: cannot convert float infinity to integer");
                    if (std::fabs(d) >= 9.2e18) unsupported("integer out of the 64-bit range");
                    return value::integer(static_cast<std::int64_t>(std::trunc(d)));
                }
                if (in.is_string()) {
                    std::int64_t v;
                    if (!is_ascii(in.str())) unsupported("int() of non-ASCII text");
                    if ((base == 0 || (base >= 2 && base <= 36)) && parse_py_int(in.str(), base, v))
                        return value::integer(v);
                    if (base != 0 && (base < 2 || base > 36))
                        runtime_fail("ValueError: int() base must be >= 2 and <= 36, or 0");
                    double d;
                    if (parse_py_float(in.str(), d)) {
                        if (std::isnan(d)) return def;
                        if (std::isinf(d))
                            runtime_fail("OverflowError: cannot convert float infinity to integer");
                        if (std::fabs(d) >= 9.2e18) unsupported("integer out of the 64-bit range");
                        return value::integer(static_cast<std::int64_t>(std::trunc(d)));
                    }
                }
                return def;
            }
            case fk::format: {
                if (!a.pos.empty() && !a.kw.empty())
                    runtime_fail(
                        "FilterArgumentError: can't handle positional and keyword "
                        "arguments at the same time");
                if (!a.kw.empty()) {
                    // `s % kwargs`: the dict is the single argument and the mapping
                    auto d = std::make_shared<dict_obj>();
                    for (auto& [k, v] : a.kw) d->set(str_value(k), v);
                    arglist one;
                    one.pos.push_back(value::from_dict(d));
                    return str_value(printf_format(soft_str(in), one, d.get()));
                }
                return str_value(printf_format(soft_str(in), a));
            }
            case fk::indent: {
                auto b = bind("indent", a, {{"width", false}, {"first", false}, {"blank", false}});
                std::string indention = "    ";
                if (b[0].first) {
                    if (b[0].second.is_string()) {
                        indention = b[0].second.str();
                    } else {
                        const std::int64_t w = int_arg(b[0].second, "indent width");
                        check_size(static_cast<std::size_t>(std::max<std::int64_t>(w, 0)));
                        indention.assign(static_cast<std::size_t>(std::max<std::int64_t>(w, 0)),
                                         ' ');
                    }
                }
                const bool first = b[1].first && truthy(b[1].second);
                const bool blank = b[2].first && truthy(b[2].second);
                if (in.is_undefined()) undefined_fail(in);
                if (!in.is_string())
                    runtime_fail("TypeError: unsupported operand type(s) for +=: '" +
                                 type_name(in) + "' and 'str'");
                arglist none;
                const value lines_v = str_method(str_value(in.str() + "\n"), "splitlines", none);
                const auto& lines = lines_v.list().items;
                std::string rv;
                if (blank) {
                    for (std::size_t k = 0; k < lines.size(); ++k) {
                        if (k) rv += "\n" + indention;
                        rv += lines[k].str();
                    }
                } else {
                    rv = lines.empty() ? std::string() : lines[0].str();
                    for (std::size_t k = 1; k < lines.size(); ++k) {
                        rv += "\n";
                        if (!lines[k].str().empty()) rv += indention;
                        rv += lines[k].str();
                    }
                }
                if (first) rv = indention + rv;
                check_size(rv.size());
                return value::string(std::move(rv), in.is_markup());
            }
            case fk::items: {
                bind("items", a, {});
                // a generator function in jinja2: the mapping check runs at the first pull
                auto src = std::make_shared<value>(std::move(in));
                auto it = std::make_shared<value>();
                return lazy_generator([this, src, it](value& out) {
                    if (it->is_undefined()) {
                        if (src->is_undefined()) return false;
                        if (src->kind() != vk::dict)
                            runtime_fail("TypeError: Can only get item pairs from a mapping.");
                        std::vector<value> items;
                        for (const auto& [k, v] : src->dict().items)
                            items.push_back(tuple_of({k, v}));
                        *it = make_iter(value::list(std::move(items)));
                    }
                    return static_cast<generator_obj&>(it->obj()).next(out);
                });
            }
            case fk::join: {
                auto b = bind("join", a, {{"d", false}, {"attribute", false}});
                const std::string d = b[0].first ? soft_str(b[0].second) : std::string();
                std::string r;
                bool firstv = true;
                for (auto& x : materialize(in)) {
                    if (!firstv) r += d;
                    firstv = false;
                    py_str(b[1].first ? attr_path(x, b[1].second) : x, r);
                    check_size(r.size());
                }
                return str_value(std::move(r));
            }
            case fk::list: {
                bind("list", a, {});
                return value::list(materialize(in));
            }
            case fk::map:
                return filter_map(std::move(in), std::move(a));
            case fk::select:
            case fk::reject:
            case fk::selectattr:
            case fk::rejectattr:
                return filter_select(std::move(in), std::move(a),
                                     f == fk::select || f == fk::selectattr,
                                     f == fk::selectattr || f == fk::rejectattr);
            case fk::max:
            case fk::min: {
                auto b = bind(name.c_str(), a, {{"case_sensitive", false}, {"attribute", false}});
                const bool cs = b[0].first && truthy(b[0].second);
                std::vector<value> items = materialize(in);
                if (items.empty())
                    return value::undefined("No aggregated item, sequence was empty.");
                auto key = [&](const value& x) {
                    value k = b[1].first ? attr_path(x, b[1].second) : x;
                    return cs ? k : ignore_case(k);
                };
                std::size_t best = 0;
                value best_key = key(items[0]);
                for (std::size_t k = 1; k < items.size(); ++k) {
                    value kk = key(items[k]);
                    if (f == fk::min ? py_lt(kk, best_key) : py_lt(best_key, kk)) {
                        best = k;
                        best_key = std::move(kk);
                    }
                }
                return items[best];
            }
            case fk::replace: {
                auto b = bind("replace", a, {{"old", true}, {"new", true}, {"count", false}});
                std::int64_t count = -1;
                if (b[2].first && !b[2].second.is_none()) count = int_arg(b[2].second, "count");
                std::string r =
                    py_replace(soft_str(in), soft_str(b[0].second), soft_str(b[1].second), count);
                check_size(r.size());
                return str_value(std::move(r));
            }
            case fk::reverse: {
                bind("reverse", a, {});
                if (in.is_string())
                    return get_slice(in, value::none(), value::none(), value::integer(-1));
                if (in.is_undefined()) return make_iter(value::list({}));
                std::vector<value> items = materialize(in);
                std::reverse(items.begin(), items.end());
                if (in.is_object(object_type::generator)) return value::list(std::move(items));
                return make_iter(value::list(std::move(items)));
            }
            case fk::round: {
                auto b = bind("round", a, {{"precision", false}, {"method", false}});
                const std::int64_t precision = b[0].first ? int_arg(b[0].second, "precision") : 0;
                std::string method = "common";
                if (b[1].first) method = str_arg(b[1].second, "method");
                if (method != "common" && method != "ceil" && method != "floor")
                    runtime_fail("FilterArgumentError: method must be common, ceil or floor");
                if (in.is_undefined()) undefined_fail(in);
                if (!in.is_number())
                    runtime_fail("TypeError: type " + type_name(in) +
                                 " doesn't define __round__ method");
                if (precision < 0) unsupported("round() with a negative precision");
                if (method == "common") {
                    if (in.is_int_like()) return value::integer(in.as_int());
                    return value::floating(py_round(in.as_float(), precision));
                }
                const double p = std::pow(10.0, static_cast<double>(precision));
                const double x = in.to_double() * p;
                if (!std::isfinite(x))
                    runtime_fail("OverflowError: cannot convert float to integer");
                return value::floating((method == "ceil" ? std::ceil(x) : std::floor(x)) / p);
            }
            case fk::safe: {
                bind("safe", a, {});
                if (in.is_markup()) return in;
                return value::string(soft_str(in), true);
            }
            case fk::sort: {
                auto b =
                    bind("sort", a,
                         {{"reverse", false}, {"case_sensitive", false}, {"attribute", false}});
                const bool rev = b[0].first && truthy(b[0].second);
                const bool cs = b[1].first && truthy(b[1].second);
                std::vector<value> items = materialize(in);
                std::vector<value> attrs;
                if (b[2].first && b[2].second.is_string()) {
                    const std::string& s = b[2].second.str();
                    for (std::size_t i = 0;;) {
                        const std::size_t c = s.find(',', i);
                        attrs.push_back(str_value(
                            s.substr(i, c == std::string::npos ? std::string::npos : c - i)));
                        if (c == std::string::npos) break;
                        i = c + 1;
                    }
                } else if (b[2].first && !b[2].second.is_none()) {
                    attrs.push_back(b[2].second);
                }
                auto key = [&](const value& x) {
                    std::vector<value> ks;
                    if (attrs.empty()) {
                        ks.push_back(cs ? x : ignore_case(x));
                    } else {
                        for (const auto& at : attrs) {
                            value k = attr_path(x, at);
                            ks.push_back(cs ? k : ignore_case(k));
                        }
                    }
                    return value::list(std::move(ks));  // make_multi_attrgetter returns a list
                };
                sort_values(items, key, rev);
                return value::list(std::move(items));
            }
            case fk::string: {
                bind("string", a, {});
                if (in.is_string()) return in;
                return str_value(py_str(in));
            }
            case fk::sum: {
                auto b = bind("sum", a, {{"attribute", false}, {"start", false}});
                value acc = b[1].first ? b[1].second : value::integer(0);
                if (acc.is_string())
                    runtime_fail("TypeError: sum() can't sum strings [use ''.join(seq) instead]");
                for (auto& x : materialize(in))
                    acc = arith(ek::add, acc, b[0].first ? attr_path(x, b[0].second) : x);
                return acc;
            }
            case fk::tojson: {
                auto b = bind("tojson", a,
                              {{"ensure_ascii", false},
                               {"indent", false},
                               {"separators", false},
                               {"sort_keys", false}});
                json_opts o;
                o.ensure_ascii = b[0].first && truthy(b[0].second);
                if (b[1].first && !b[1].second.is_none()) {
                    o.has_indent = true;
                    if (b[1].second.is_string()) {
                        o.indent = b[1].second.str();
                    } else {
                        const std::int64_t w = int_arg(b[1].second, "indent");
                        o.indent.assign(static_cast<std::size_t>(std::max<std::int64_t>(w, 0)),
                                        ' ');
                    }
                    o.item_sep = ",";
                }
                if (b[2].first && !b[2].second.is_none()) {
                    std::vector<value> seps = materialize(b[2].second);
                    if (seps.size() != 2) runtime_fail("ValueError: separators must be a pair");
                    o.item_sep = str_arg(seps[0], "separator");
                    o.key_sep = str_arg(seps[1], "separator");
                }
                o.sort_keys = b[3].first && truthy(b[3].second);
                std::string out;
                json_dump(in, o, 0, out, 0);
                check_size(out.size());
                return str_value(std::move(out));
            }
            case fk::trim: {
                auto b = bind("trim", a, {{"chars", false}});
                const value* chars = nullptr;
                if (b[0].first && !b[0].second.is_none()) {
                    str_arg(b[0].second, "strip arg");
                    chars = &b[0].second;
                }
                return value::string(py_strip(soft_str(in), chars, true, true), in.is_markup());
            }
            case fk::unique: {
                auto b = bind("unique", a, {{"case_sensitive", false}, {"attribute", false}});
                const bool cs = b[0].first && truthy(b[0].second);
                const value attribute = b[1].first ? b[1].second : value::none();
                auto src = std::make_shared<value>(in);
                auto seen = std::make_shared<std::vector<value>>();
                auto it = std::make_shared<value>();
                return lazy_generator([this, src, seen, it, cs, attribute](value& out) {
                    if (it->is_undefined()) *it = make_iter(*src);
                    auto& g = static_cast<generator_obj&>(it->obj());
                    value x;
                    while (g.next(x)) {
                        value k = attr_path(x, attribute);
                        if (!cs) k = ignore_case(k);
                        require_hashable(k);
                        bool dup = false;
                        for (const auto& s : *seen)
                            if (py_eq(s, k)) {
                                dup = true;
                                break;
                            }
                        if (dup) continue;
                        seen->push_back(std::move(k));
                        out = std::move(x);
                        return true;
                    }
                    return false;
                });
            }
            case fk::wordcount: {
                bind("wordcount", a, {});
                const std::string s = soft_str(in);
                std::int64_t n = 0;
                bool inword = false;
                for (std::size_t i = 0; i < s.size();) {
                    const std::size_t st = i;
                    const char32_t c = decode_utf8(s, i);
                    const bool w = c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0
                                                         : py_isalnum(s.substr(st, i - st)));
                    if (w && !inword) ++n;
                    inword = w;
                }
                return value::integer(n);
            }
            case fk::batch: {
                auto b = bind("batch", a, {{"linecount", true}, {"fill_with", false}});
                const std::int64_t n = int_arg(b[0].second, "linecount");
                if (n <= 0) unsupported("batch() with a count below 1 is not supported");
                const bool fill = b[1].first && !b[1].second.is_none();
                const value fill_with = b[1].second;
                auto src = std::make_shared<value>(std::move(in));
                auto it = std::make_shared<value>();
                return lazy_generator([this, src, it, n, fill, fill_with](value& out) {
                    if (it->is_undefined()) *it = make_iter(*src);
                    auto& g = static_cast<generator_obj&>(it->obj());
                    std::vector<value> tmp;
                    value x;
                    while (static_cast<std::int64_t>(tmp.size()) < n && g.next(x))
                        tmp.push_back(std::move(x));
                    if (tmp.empty()) return false;
                    if (static_cast<std::int64_t>(tmp.size()) < n && fill)
                        tmp.resize(static_cast<std::size_t>(n), fill_with);
                    out = value::list(std::move(tmp));
                    return true;
                });
            }
            case fk::unsupported_filter:
                unsupported("the '" + name + "' filter is not supported");
        }
        unsupported("the '" + name + "' filter is not supported");
    }

    /// Python's round(x, n) for n >= 0: correctly rounded, ties to even.
    static double py_round(double x, std::int64_t n) {
        if (!std::isfinite(x)) return x;
        if (n == 0) return std::nearbyint(x);
        if (n > 330) return x;
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), x);
        return std::strtod(buf, nullptr);
    }

    template <class Key>
    void sort_values(std::vector<value>& items, Key key, bool reverse) {
        std::vector<std::pair<value, std::size_t>> keyed;
        keyed.reserve(items.size());
        for (std::size_t k = 0; k < items.size(); ++k) keyed.emplace_back(key(items[k]), k);
        // Python's sorted(reverse=True) keeps equal items in their original order
        std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
            return reverse ? py_lt(y.first, x.first) : py_lt(x.first, y.first);
        });
        std::vector<value> out;
        out.reserve(items.size());
        for (const auto& [k, idx] : keyed) out.push_back(items[idx]);
        items = std::move(out);
    }

    std::string jinja_title(const std::string& s) {
        // jinja2's do_title: split on ([-\s({\[<]+), then item[0].upper() + item[1:].lower()
        auto is_sep = [](char32_t c) {
            return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c);
        };
        std::string out;
        std::size_t i = 0;
        while (i < s.size()) {
            std::size_t j = i;
            std::size_t k = i;
            const bool sep = is_sep(decode_utf8(s, k));
            while (j < s.size()) {
                std::size_t m = j;
                if (is_sep(decode_utf8(s, m)) != sep) break;
                j = m;
            }
            const std::string item = s.substr(i, j - i);
            std::size_t first_end = 0;
            decode_utf8(item, first_end);
            out += py_upper(item.substr(0, first_end));
            out += py_lower(item.substr(first_end));
            i = j;
        }
        return out;
    }

    /// Python's printf-style formatting (%s, %r, %d, %i, %%; no flags or widths): @p a.pos are
    /// the arguments; @p mapping (or a.kw, for the format filter) serves %(name)s.
    std::string printf_format(const std::string& fmt, const arglist& a,
                              const dict_obj* mapping_arg = nullptr) {
        std::string out;
        std::size_t argi = 0;
        const bool mapping = !a.kw.empty() || mapping_arg;
        // `x % (args)`: one positional tuple; a single non-tuple argument is used as is
        for (std::size_t i = 0; i < fmt.size(); ++i) {
            if (fmt[i] != '%') {
                out += fmt[i];
                continue;
            }
            if (++i >= fmt.size()) runtime_fail("ValueError: incomplete format");
            if (fmt[i] == '%') {
                out += '%';
                continue;
            }
            const value* v = nullptr;
            if (fmt[i] == '(') {
                const std::size_t close = fmt.find(')', i);
                if (close == std::string::npos) runtime_fail("ValueError: incomplete format key");
                const std::string key = fmt.substr(i + 1, close - i - 1);
                if (!mapping) runtime_fail("TypeError: format requires a mapping");
                for (const auto& [n, x] : a.kw)
                    if (n == key) v = &x;
                if (mapping_arg) v = mapping_arg->find(std::string_view(key));
                if (!v) runtime_fail("KeyError: '" + key + "'");
                i = close + 1;
                if (i >= fmt.size()) runtime_fail("ValueError: incomplete format");
            } else {
                if (mapping && !mapping_arg) runtime_fail("TypeError: format requires a mapping");
                if (argi >= a.pos.size())
                    runtime_fail("TypeError: not enough arguments for format string");
                v = &a.pos[argi++];
            }
            const char conv = fmt[i];
            if (conv == 's') {
                py_str(*v, out);
            } else if (conv == 'r') {
                py_repr(*v, out);
            } else if (conv == 'd' || conv == 'i') {
                if (v->is_int_like()) {
                    py_str(value::integer(v->as_int()), out);
                } else if (v->kind() == vk::floating && std::isfinite(v->as_float()) &&
                           std::fabs(v->as_float()) < 9.2e18) {
                    py_str(value::integer(static_cast<std::int64_t>(std::trunc(v->as_float()))),
                           out);
                } else {
                    runtime_fail("TypeError: %d format: a real number is required, not " +
                                 type_name(*v));
                }
            } else {
                unsupported("printf-style conversion '%" + std::string(1, conv) +
                            "' is not supported");
            }
        }
        if (!mapping && argi < a.pos.size())
            runtime_fail("TypeError: not all arguments converted during string formatting");
        return out;
    }

    value filter_map(value in, arglist a) {
        // prepare_map runs at the first pull, like the generator it is in jinja2
        auto src = std::make_shared<value>(std::move(in));
        auto args = std::make_shared<arglist>(std::move(a));
        auto it = std::make_shared<value>();
        auto started = std::make_shared<bool>(false);
        auto attr_mode = std::make_shared<bool>(false);
        auto attr = std::make_shared<value>();
        auto def = std::make_shared<value>();
        auto fname = std::make_shared<value>();
        return lazy_generator([=, this](value& out) {
            if (!*started) {
                *started = true;
                if (!truthy(*src)) return false;
                auto& ar = *args;
                bool has_attr = false;
                for (const auto& [k, v] : ar.kw)
                    if (k == "attribute") has_attr = true;
                if (ar.pos.empty() && has_attr) {
                    *attr_mode = true;
                    *def = value::none();
                    for (auto& [k, v] : ar.kw) {
                        if (k == "attribute") {
                            *attr = v;
                        } else if (k == "default") {
                            *def = v;
                        } else {
                            runtime_fail("FilterArgumentError: Unexpected keyword argument '" + k +
                                         "'");
                        }
                    }
                } else {
                    if (ar.pos.empty())
                        runtime_fail("FilterArgumentError: map requires a filter argument");
                    *fname = ar.pos[0];
                    ar.pos.erase(ar.pos.begin());
                }
                *it = make_iter(*src);
            }
            if (it->is_undefined()) return false;
            value x;
            if (!static_cast<generator_obj&>(it->obj()).next(x)) return false;
            if (*attr_mode) {
                value r = attr_path(x, *attr);
                if (!def->is_none() && r.is_undefined()) r = *def;
                out = std::move(r);
            } else {
                out = call_filter_by_name(*fname, std::move(x), *args);
            }
            return true;
        });
    }

    value filter_select(value in, arglist a, bool select, bool lookup_attr) {
        auto src = std::make_shared<value>(std::move(in));
        auto args = std::make_shared<arglist>(std::move(a));
        auto it = std::make_shared<value>();
        auto started = std::make_shared<bool>(false);
        auto attr = std::make_shared<value>();
        auto test = std::make_shared<value>();
        return lazy_generator([=, this](value& out) {
            if (!*started) {
                *started = true;
                if (!truthy(*src)) return false;
                auto& ar = *args;
                std::size_t off = 0;
                if (lookup_attr) {
                    if (ar.pos.empty())
                        runtime_fail("FilterArgumentError: Missing parameter for attribute name");
                    *attr = ar.pos[0];
                    off = 1;
                }
                if (ar.pos.size() > off) *test = ar.pos[off];
                ar.pos.erase(ar.pos.begin(), ar.pos.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                  ar.pos.size(), off + 1)));
                *it = make_iter(*src);
            }
            if (it->is_undefined()) return false;
            auto& g = static_cast<generator_obj&>(it->obj());
            value x;
            while (g.next(x)) {
                const value probe = lookup_attr ? attr_path(x, *attr) : x;
                bool ok;
                if (test->is_undefined()) {
                    ok = truthy(probe);
                } else {
                    const std::string& tn = str_arg(*test, "test name");
                    const int id = test_id(tn);
                    if (id < 0) runtime_fail("TemplateRuntimeError: No test named '" + tn + "'.");
                    ok = call_test(static_cast<test_kind>(id), probe, *args);
                }
                if (ok == select) {
                    out = std::move(x);
                    return true;
                }
            }
            return false;
        });
    }

    // -- tests

    bool call_test_node(const expr& e, const scope_ptr& sc) {
        value v = e.a ? eval(*e.a, sc) : value();
        arglist args = eval_args(e.call, sc);
        if (e.builtin < 0)
            runtime_fail("TemplateRuntimeError: No test named '" + e.name + "' found.");
        return call_test(static_cast<test_kind>(e.builtin), v, args);
    }

    bool call_test(test_kind t, const value& v, const arglist& args_in) {
        arglist a = args_in;
        using tk = test_kind;
        auto one = [&](const char* n) -> value {
            auto b = bind(n, a, {{"other", true}});
            return b[0].second;
        };
        auto none_args = [&](const char* n) { bind(n, a, {}); };
        switch (t) {
            case tk::defined:
                none_args("defined");
                return !v.is_undefined();
            case tk::undefined:
                none_args("undefined");
                return v.is_undefined();
            case tk::none:
                none_args("none");
                return v.is_none();
            case tk::boolean:
                none_args("boolean");
                return v.kind() == vk::boolean;
            case tk::false_:
                none_args("false");
                return v.kind() == vk::boolean && !v.as_bool();
            case tk::true_:
                none_args("true");
                return v.kind() == vk::boolean && v.as_bool();
            case tk::integer:
                none_args("integer");
                return v.kind() == vk::integer;
            case tk::float_:
                none_args("float");
                return v.kind() == vk::floating;
            case tk::string:
                none_args("string");
                return v.is_string();
            case tk::mapping:
                none_args("mapping");
                return v.kind() == vk::dict;
            case tk::number:
                none_args("number");
                return v.is_number();
            case tk::escaped:
                none_args("escaped");
                return v.is_markup();
            case tk::lower:
                none_args("lower");
                return py_islower(soft_str(v));
            case tk::upper:
                none_args("upper");
                return py_isupper(soft_str(v));
            case tk::sequence:
                none_args("sequence");
                switch (v.kind()) {
                    case vk::undefined:
                    case vk::string:
                    case vk::dict:
                        return true;
                    case vk::list:
                        return v.list().type == list_type::list ||
                               v.list().type == list_type::tuple ||
                               v.list().type == list_type::range;
                    default:
                        return v.is_object(object_type::loop);
                }
            case tk::iterable:
                none_args("iterable");
                switch (v.kind()) {
                    case vk::undefined:
                    case vk::string:
                    case vk::list:
                    case vk::dict:
                        return true;
                    case vk::object:
                        return v.is_object(object_type::generator) ||
                               v.is_object(object_type::loop);
                    default:
                        return false;
                }
            case tk::callable:
                none_args("callable");
                if (v.is_undefined()) return true;
                return v.kind() == vk::object && (v.obj().type() == object_type::macro ||
                                                  v.obj().type() == object_type::builtin ||
                                                  v.obj().type() == object_type::bound_method);
            case tk::filter: {
                none_args("filter");
                return v.is_string() && jinja2_has_filter(v.str());
            }
            case tk::test: {
                none_args("test");
                return v.is_string() && jinja2_has_test(v.str());
            }
            case tk::odd:
            case tk::even: {
                none_args(t == tk::odd ? "odd" : "even");
                const value r = arith(ek::mod, v, value::integer(2));
                return t == tk::odd ? py_eq(r, value::integer(1)) : py_eq(r, value::integer(0));
            }
            case tk::divisibleby: {
                auto b = bind("divisibleby", a, {{"num", true}});
                return py_eq(arith(ek::mod, v, b[0].second), value::integer(0));
            }
            case tk::sameas: {
                const value o = one("sameas");
                if (v.kind() != o.kind()) {
                    if (v.is_number() && o.is_number() && num_eq(v, o))
                        unsupported("'sameas' on numbers is not supported");
                    return false;
                }
                switch (v.kind()) {
                    case vk::none:
                    case vk::undefined:
                        return v.is_none() || v.identity() == o.identity();
                    case vk::boolean:
                        return v.as_bool() == o.as_bool();
                    case vk::integer:
                        if (v.as_int() >= -5 && v.as_int() <= 256 && o.as_int() >= -5 &&
                            o.as_int() <= 256)
                            return v.as_int() == o.as_int();
                        unsupported("'sameas' on numbers is not supported");
                    case vk::list:
                    case vk::dict:
                    case vk::object:
                        return v.identity() == o.identity();
                    default:
                        unsupported("'sameas' on strings and floats is not supported");
                }
            }
            case tk::in:
                return contains(one("in"), v);
            case tk::eq:
                return py_eq(v, one("eq"));
            case tk::ne:
                return !py_eq(v, one("ne"));
            case tk::gt:
                return compare(cmp_op::gt, v, one("gt"));
            case tk::ge:
                return compare(cmp_op::gteq, v, one("ge"));
            case tk::lt:
                return compare(cmp_op::lt, v, one("lt"));
            case tk::le:
                return compare(cmp_op::lteq, v, one("le"));
        }
        return false;
    }
};

}  // namespace

std::string render(const program& prog, const render_env& env) {
    renderer r(prog, env);
    return r.run();
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
