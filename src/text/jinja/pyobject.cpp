// SPDX-License-Identifier: Apache-2.0
// Python's object semantics over the Jinja interpreter's values: type names, truth, ==, <,
// hashing, dict lookup, str length and slices.
#include "text/jinja/pyobject.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/objects.hpp"
#include "text/jinja/pyunicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

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

namespace {

bool seq_eq(const std::vector<value>& x, const std::vector<value>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t k = 0; k < x.size(); ++k)
        if (!py_eq(x[k], y[k])) return false;
    return true;
}

}  // namespace

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

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
