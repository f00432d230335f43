// SPDX-License-Identifier: Apache-2.0
// Python's str(), repr() and json.dumps() of the interpreter's values, byte for byte as
// CPython 3 writes them (float repr: shortest round-trip digits, exponent form outside
// 1e-4 <= |x| < 1e16; str repr: quote choice and escapes of unicode_repr).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <polyglot/io/json_writer.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "text/jinja/jinja.hpp"
#include "text/jinja/pyobject.hpp"
#include "text/jinja/pyunicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

void py_float_repr(double d, std::string& out) {
    if (std::isnan(d)) {
        out += "nan";
        return;
    }
    if (std::isinf(d)) {
        out += d < 0 ? "-inf" : "inf";
        return;
    }
    if (d == 0) {
        out += std::signbit(d) ? "-0.0" : "0.0";
        return;
    }
    // Shortest round-trip digits and decimal exponent.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    const std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
    const std::size_t e = sci.find('e');
    std::string digits;
    bool negative = false;
    for (std::size_t i = 0; i < e; ++i) {
        if (sci[i] == '-') {
            negative = true;
        } else if (sci[i] != '.') {
            digits += sci[i];
        }
    }
    const int exp10 = std::atoi(std::string(sci.substr(e + 1)).c_str());
    const int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
    if (negative) out += '-';
    if (decpt <= -4 || decpt > 16) {
        out += digits[0];
        if (digits.size() > 1) {
            out += '.';
            out.append(digits, 1, std::string::npos);
        }
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
        out += eb;
        return;
    }
    const int nd = static_cast<int>(digits.size());
    if (decpt <= 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-decpt), '0');
        out += digits;
    } else if (decpt >= nd) {
        out += digits;
        out.append(static_cast<std::size_t>(decpt - nd), '0');
        out += ".0";
    } else {
        out.append(digits, 0, static_cast<std::size_t>(decpt));
        out += '.';
        out.append(digits, static_cast<std::size_t>(decpt), std::string::npos);
    }
}

namespace {

void int_str(std::int64_t i, std::string& out) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, i);
    out.append(buf, r.ptr);
}

void str_repr(std::string_view s, std::string& out) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    out += quote;
    for (std::size_t i = 0; i < s.size();) {
        const char32_t c = decode_utf8(s, i);
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7F) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
            out += b;
        } else if (c < 0x7F) {
            out += static_cast<char>(c);
        } else if (py_isprintable(c)) {
            append_utf8(out, c);
        } else {
            char b[16];
            if (c <= 0xFF) {
                std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
            } else if (c <= 0xFFFF) {
                std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
            } else {
                std::snprintf(b, sizeof b, "\\U%08x", static_cast<unsigned>(c));
            }
            out += b;
        }
    }
    out += quote;
}

[[noreturn]] void no_str(const value& v) {
    (void)v;
    unsupported("printing this object is not supported (Python would print a memory address)");
}

void seq_repr(const list_obj& l, std::string& out) {
    for (std::size_t k = 0; k < l.items.size(); ++k) {
        if (k) out += ", ";
        py_repr(l.items[k], out);
    }
}

}  // namespace

void py_repr(const value& v, std::string& out) {
    switch (v.kind()) {
        case vk::undefined:
            out += "Undefined";
            return;
        case vk::string:
            if (v.is_markup()) {
                out += "Markup(";
                str_repr(v.str(), out);
                out += ')';
            } else {
                str_repr(v.str(), out);
            }
            return;
        default:
            py_str(v, out);
    }
}

void py_str(const value& v, std::string& out) {
    switch (v.kind()) {
        case vk::undefined:
            return;
        case vk::none:
            out += "None";
            return;
        case vk::boolean:
            out += v.as_bool() ? "True" : "False";
            return;
        case vk::integer:
            int_str(v.as_int(), out);
            return;
        case vk::floating:
            py_float_repr(v.as_float(), out);
            return;
        case vk::string:
            out += v.str();
            return;
        case vk::list: {
            const list_obj& l = v.list();
            switch (l.type) {
                case list_type::list:
                    out += '[';
                    seq_repr(l, out);
                    out += ']';
                    return;
                case list_type::tuple:
                    out += '(';
                    seq_repr(l, out);
                    if (l.items.size() == 1) out += ',';
                    out += ')';
                    return;
                case list_type::dict_items:
                    out += "dict_items([";
                    seq_repr(l, out);
                    out += "])";
                    return;
                case list_type::dict_keys:
                    out += "dict_keys([";
                    seq_repr(l, out);
                    out += "])";
                    return;
                case list_type::dict_values:
                    out += "dict_values([";
                    seq_repr(l, out);
                    out += "])";
                    return;
                case list_type::range:
                    out += "range(";
                    int_str(l.range_start, out);
                    out += ", ";
                    int_str(l.range_stop, out);
                    if (l.range_step != 1) {
                        out += ", ";
                        int_str(l.range_step, out);
                    }
                    out += ')';
                    return;
            }
            return;
        }
        case vk::dict: {
            out += '{';
            bool first = true;
            for (const auto& [k, val] : v.dict().items) {
                if (!first) out += ", ";
                first = false;
                py_repr(k, out);
                out += ": ";
                py_repr(val, out);
            }
            out += '}';
            return;
        }
        case vk::object:
            no_str(v);
    }
}

std::string py_str(const value& v) {
    std::string s;
    py_str(v, s);
    return s;
}

// ---- JSON (transformers' tojson = json.dumps) ---------------------------------------------

namespace {

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

}  // namespace

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

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
