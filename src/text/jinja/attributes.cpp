// SPDX-License-Identifier: Apache-2.0
// Attribute and item access of the Jinja renderer, as jinja2's ImmutableSandboxedEnvironment
// allows it (jinja2/sandbox.py getattr / getitem): which methods of str, list and dict exist and
// are safe, loop attributes, subscripts and slices, and jinja2's make_attrgetter.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/pyunicode.hpp"
#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

bool renderer::is_str_method(std::string_view n) {
    static constexpr std::string_view names[] = {
        "capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
        "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
        "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
        "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
        "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
        "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
        "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
        "swapcase",     "title",       "translate", "upper",      "zfill"};
    for (auto x : names)
        if (x == n) return true;
    return false;
}

value renderer::bound(const value& self, std::string_view name) {
    auto m = std::make_shared<bound_method_obj>();
    m->self = self;
    m->name = std::string(name);
    return value::object(std::move(m));
}

value renderer::unsafe_attr(const value& obj, std::string_view name) {
    return value::undefined("access to attribute '" + std::string(name) + "' of '" +
                                type_name(obj) + "' object is unsafe.",
                            true);
}

/// Python getattr(obj, name) as the ImmutableSandboxedEnvironment allows it; sets @p found
/// to false (and returns undefined) when Python raises AttributeError.
value renderer::py_getattr(const value& obj, std::string_view name, bool& found) {
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
                    if (name == "start" || name == "stop" || name == "step" || name == "count" ||
                        name == "index")
                        unsupported("range attributes are not supported");
                    break;
                default:
                    if (name == "mapping" || name == "isdisjoint")
                        unsupported("dict view attributes are not supported");
            }
            break;
        case vk::boolean:
        case vk::integer:
            if (name == "real" || name == "imag" || name == "numerator" || name == "denominator" ||
                name == "bit_length" || name == "bit_count" || name == "conjugate" ||
                name == "to_bytes" || name == "from_bytes" || name == "as_integer_ratio")
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

value renderer::loop_attr(const value& obj, std::string_view name, bool& found) {
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

value renderer::missing_attr(const value& obj, std::string_view name) {
    return value::undefined("'" + type_name(obj) + " object' has no attribute '" +
                            std::string(name) + "'");
}

value renderer::get_attr(const value& obj, std::string_view name) {
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

value renderer::get_item(const value& obj, const value& key) {
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
            const bool subscriptable = l.type == list_type::list || l.type == list_type::tuple ||
                                       l.type == list_type::range;
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

value renderer::get_slice(const value& obj, const value& a, const value& b, const value& c) {
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
            const slice_idx ix = adjust_slice(a, b, c, static_cast<std::int64_t>(l.items.size()));
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

/// jinja2's make_attrgetter: dotted path, integer parts looked up as integers, getitem
/// semantics.
value renderer::attr_path(const value& item, const value& attribute) {
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

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
