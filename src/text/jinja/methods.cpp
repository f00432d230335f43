// SPDX-License-Identifier: Apache-2.0
// Methods that templates call on values: Python's str.*, list.*, dict.* (as far as the sandbox
// allows them), jinja2's loop.cycle / loop.changed, and Python's str.format and printf-style
// `%` formatting.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/builtins.hpp"
#include "text/jinja/pyunicode.hpp"
#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

value renderer::call_method(const value& self, const std::string& name, arglist a) {
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

value renderer::loop_method(const value& self, const std::string& name, arglist& a) {
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

value renderer::dict_method(const value& self, const std::string& name, arglist& a) {
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

value renderer::list_method(const value& self, const std::string& name, arglist& a) {
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
            if (py_eq(l.items[k], a.pos[0])) return value::integer(static_cast<std::int64_t>(k));
        runtime_fail("ValueError: value is not in list");
    }
    unsupported("list method '" + name + "' is not supported");
}

value renderer::str_result(std::string s, const value& self) {
    // markupsafe wraps str methods so that they return Markup for a Markup receiver
    check_size(s.size());
    return value::string(std::move(s), self.is_markup());
}

namespace {

// ---- str methods -----------------------------------------------------------------------------

/// str.strip(), str.lstrip(), str.rstrip()
value str_strip_chars(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind(name.c_str(), a, {{"chars", false}});
    const value* chars = nullptr;
    if (b[0].first && !b[0].second.is_none()) {
        rd.str_arg(b[0].second, "strip arg");
        chars = &b[0].second;
    }
    return rd.str_result(py_strip(s, chars, name != "rstrip", name != "lstrip"), self);
}

/// str.split(), str.rsplit()
value str_split_sep(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind(name.c_str(), a, {{"sep", false}, {"maxsplit", false}});
    const std::int64_t maxsplit = b[1].first ? rd.int_arg(b[1].second, "maxsplit") : -1;
    if (!b[0].first || b[0].second.is_none())
        return value::list(name == "split" ? py_split_ws(s, maxsplit) : py_rsplit_ws(s, maxsplit));
    const std::string& sep = rd.str_arg(b[0].second, "sep");
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

/// str.startswith(), str.endswith()
value str_starts_ends(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    if (a.pos.size() != 1 || !a.kw.empty())
        unsupported(name + "() with start/end arguments is not supported");
    std::vector<value> cands;
    if (a.pos[0].is_string()) {
        cands.push_back(a.pos[0]);
    } else if (a.pos[0].kind() == vk::list && a.pos[0].list().type == list_type::tuple) {
        cands = a.pos[0].list().items;
    } else {
        runtime_fail("TypeError: " + name + " first arg must be str or a tuple of str, not " +
                     type_name(a.pos[0]));
    }
    for (const auto& c : cands) {
        const std::string& p = rd.str_arg(c, "tuple for startswith must only contain str");
        if (p.size() > s.size()) continue;
        if (name == "startswith" ? s.compare(0, p.size(), p) == 0
                                 : s.compare(s.size() - p.size(), p.size(), p) == 0)
            return value::boolean(true);
    }
    return value::boolean(false);
}

/// str.lower(), str.upper(), str.title(), str.capitalize(), str.swapcase(), str.casefold()
value str_case(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    rd.bind(name.c_str(), a, {});
    if (name == "lower") return rd.str_result(py_lower(s), self);
    if (name == "upper") return rd.str_result(py_upper(s), self);
    if (name == "title") return rd.str_result(py_title(s), self);
    if (name == "capitalize") return rd.str_result(py_capitalize(s), self);
    if (name == "swapcase") return rd.str_result(py_swapcase(s), self);
    if (self.str_ascii()) return rd.str_result(py_lower(s), self);
    unsupported("casefold() of non-ASCII text is not supported");
}

/// str.replace()
value str_replace(renderer& rd, const value& self, const std::string& /*name*/, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind("replace", a, {{"old", true}, {"new", true}, {"count", false}});
    const std::int64_t count = b[2].first ? rd.int_arg(b[2].second, "count") : -1;
    std::string r = py_replace(s, rd.str_arg(b[0].second, "replace() argument 1"),
                               rd.str_arg(b[1].second, "replace() argument 2"), count);
    return rd.str_result(std::move(r), self);
}

/// str.find(), str.rfind(), str.index(), str.rindex(), str.count()
value str_find_count(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    if (a.pos.size() != 1 || !a.kw.empty())
        unsupported(name + "() with start/end arguments is not supported");
    const std::string& sub = rd.str_arg(a.pos[0], "must be str");
    if (name == "count") {
        if (sub.empty()) return value::integer(static_cast<std::int64_t>(str_len(self)) + 1);
        std::int64_t n = 0;
        for (std::size_t i = s.find(sub); i != std::string::npos; i = s.find(sub, i + sub.size()))
            ++n;
        return value::integer(n);
    }
    const std::size_t f = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (f == std::string::npos) {
        if (name == "index" || name == "rindex") runtime_fail("ValueError: substring not found");
        return value::integer(-1);
    }
    return value::integer(static_cast<std::int64_t>(count_code_points(s.substr(0, f))));
}

/// str.join()
value str_join(renderer& rd, const value& self, const std::string& /*name*/, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind("join", a, {{"iterable", true}});
    std::string r;
    bool first = true;
    for (const auto& x : rd.materialize(b[0].second)) {
        if (!x.is_string())
            runtime_fail("TypeError: sequence item: expected str instance, " + type_name(x) +
                         " found");
        if (!first) r += s;
        first = false;
        r += x.str();
        rd.check_size(r.size());
    }
    return rd.str_result(std::move(r), self);
}

/// str.splitlines()
value str_splitlines(renderer& rd, const value& self, const std::string& /*name*/, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind("splitlines", a, {{"keepends", false}});
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

/// str.isspace(), str.isalpha(), str.isdigit(), str.isalnum(), str.isdecimal(), str.isnumeric(),
/// str.islower(), str.isupper(), str.istitle(), str.isascii()
value str_char_class(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    rd.bind(name.c_str(), a, {});
    if (name == "isspace") return value::boolean(!s.empty() && leading_space_bytes(s) == s.size());
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

/// str.removeprefix(), str.removesuffix()
value str_remove_affix(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind(name.c_str(), a, {{"affix", true}});
    const std::string& p = rd.str_arg(b[0].second, name.c_str());
    if (name == "removeprefix" && s.compare(0, p.size(), p) == 0 && p.size() <= s.size())
        return rd.str_result(s.substr(p.size()), self);
    if (name == "removesuffix" && !p.empty() && p.size() <= s.size() &&
        s.compare(s.size() - p.size(), p.size(), p) == 0)
        return rd.str_result(s.substr(0, s.size() - p.size()), self);
    return self;
}

/// str.partition(), str.rpartition()
value str_partition(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind(name.c_str(), a, {{"sep", true}});
    const std::string& sep = rd.str_arg(b[0].second, "sep");
    if (sep.empty()) runtime_fail("ValueError: empty separator");
    const std::size_t f = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (f == std::string::npos) {
        if (name == "partition") return tuple_of({self, str_value(""), str_value("")});
        return tuple_of({str_value(""), str_value(""), self});
    }
    return tuple_of(
        {str_value(s.substr(0, f)), str_value(sep), str_value(s.substr(f + sep.size()))});
}

/// str.center(), str.ljust(), str.rjust()
value str_justify(renderer& rd, const value& self, const std::string& name, arglist& a) {
    const std::string& s = self.str();
    if (a.pos.size() != 1 || !a.kw.empty())
        unsupported(name + "() with a fill character is not supported");
    return rd.str_result(rd.pad(s, str_len(self), rd.int_arg(a.pos[0], "width"), name), self);
}

/// str.zfill()
value str_zfill(renderer& rd, const value& self, const std::string& /*name*/, arglist& a) {
    const std::string& s = self.str();
    auto b = rd.bind("zfill", a, {{"width", true}});
    const std::int64_t width = rd.int_arg(b[0].second, "width");
    const auto n = static_cast<std::int64_t>(str_len(self));
    if (width <= n) return self;
    std::string fill(static_cast<std::size_t>(width - n), '0');
    if (!s.empty() && (s[0] == '+' || s[0] == '-'))
        return rd.str_result(s.substr(0, 1) + fill + s.substr(1), self);
    return rd.str_result(fill + s, self);
}

/// str.format()
value str_format_method(renderer& rd, const value& self, const std::string& /*name*/, arglist& a) {
    const std::string& s = self.str();
    return rd.str_result(rd.str_format(s, a), self);
}

using str_method_fn = value (*)(renderer& rd, const value& self, const std::string& name,
                                arglist& a);

struct str_method_entry {
    std::string_view name;
    str_method_fn fn;
};

/// The str methods this interpreter implements, by name (the sandbox's list of str methods is
/// renderer::is_str_method; calling one that is not here is an error).
constexpr str_method_entry str_methods[] = {
    {"strip", str_strip_chars},
    {"lstrip", str_strip_chars},
    {"rstrip", str_strip_chars},
    {"split", str_split_sep},
    {"rsplit", str_split_sep},
    {"startswith", str_starts_ends},
    {"endswith", str_starts_ends},
    {"lower", str_case},
    {"upper", str_case},
    {"title", str_case},
    {"capitalize", str_case},
    {"swapcase", str_case},
    {"casefold", str_case},
    {"replace", str_replace},
    {"find", str_find_count},
    {"rfind", str_find_count},
    {"index", str_find_count},
    {"rindex", str_find_count},
    {"count", str_find_count},
    {"join", str_join},
    {"splitlines", str_splitlines},
    {"isspace", str_char_class},
    {"isalpha", str_char_class},
    {"isdigit", str_char_class},
    {"isalnum", str_char_class},
    {"isdecimal", str_char_class},
    {"isnumeric", str_char_class},
    {"islower", str_char_class},
    {"isupper", str_char_class},
    {"istitle", str_char_class},
    {"isascii", str_char_class},
    {"removeprefix", str_remove_affix},
    {"removesuffix", str_remove_affix},
    {"partition", str_partition},
    {"rpartition", str_partition},
    {"center", str_justify},
    {"ljust", str_justify},
    {"rjust", str_justify},
    {"zfill", str_zfill},
    {"format", str_format_method},
};

}  // namespace

value renderer::str_method(const value& self, const std::string& name, arglist& a) {
    const int k = registry_find(str_methods, name);
    if (k < 0) unsupported("str." + name + "() is not supported");
    return str_methods[k].fn(*this, self, name, a);
}

std::string renderer::pad(const std::string& s, std::size_t len, std::int64_t width,
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
std::string renderer::str_format(const std::string& s, const arglist& a) {
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

/// Python's printf-style formatting (%s, %r, %d, %i, %%; no flags or widths): @p a.pos are
/// the arguments; @p mapping (or a.kw, for the format filter) serves %(name)s.
std::string renderer::printf_format(const std::string& fmt, const arglist& a,
                                    const dict_obj* mapping_arg) {
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
                py_str(value::integer(static_cast<std::int64_t>(std::trunc(v->as_float()))), out);
            } else {
                runtime_fail("TypeError: %d format: a real number is required, not " +
                             type_name(*v));
            }
        } else {
            unsupported("printf-style conversion '%" + std::string(1, conv) + "' is not supported");
        }
    }
    if (!mapping && argi < a.pos.size())
        runtime_fail("TypeError: not all arguments converted during string formatting");
    return out;
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
