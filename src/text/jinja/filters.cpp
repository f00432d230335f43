// SPDX-License-Identifier: Apache-2.0
// The filters of the Jinja renderer: jinja2 3.1's filters.py (with transformers' tojson), one
// function per filter, looked up by name in filter_table (at the end of this file).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

namespace {

// ---- helpers ---------------------------------------------------------------------------------

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

value ignore_case(value v) {
    if (v.is_string()) return str_value(py_lower(v.str()));
    return v;
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

/// Python's round(x, n) for n >= 0: correctly rounded, ties to even.
double py_round(double x, std::int64_t n) {
    if (!std::isfinite(x)) return x;
    if (n == 0) return std::nearbyint(x);
    if (n > 330) return x;
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), x);
    return std::strtod(buf, nullptr);
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

// ---- the filters -----------------------------------------------------------------------------

value filter_abs(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("abs", a, {});
    if (in.is_undefined()) undefined_fail(in);
    if (in.kind() == vk::floating) return value::floating(std::fabs(in.as_float()));
    if (in.is_int_like()) {
        if (in.as_int() == INT64_MIN) unsupported("integer overflow");
        return value::integer(std::llabs(in.as_int()));
    }
    runtime_fail("TypeError: bad operand type for abs(): '" + type_name(in) + "'");
}

value filter_capitalize(renderer& rd, const std::string& name, value in, arglist& a) {
    rd.bind(name.c_str(), a, {});
    return value::string(py_capitalize(soft_str(in)), in.is_markup());
}

value filter_lower(renderer& rd, const std::string& name, value in, arglist& a) {
    rd.bind(name.c_str(), a, {});
    return value::string(py_lower(soft_str(in)), in.is_markup());
}

value filter_upper(renderer& rd, const std::string& name, value in, arglist& a) {
    rd.bind(name.c_str(), a, {});
    return value::string(py_upper(soft_str(in)), in.is_markup());
}

value filter_title(renderer& rd, const std::string& name, value in, arglist& a) {
    rd.bind(name.c_str(), a, {});
    return value::string(jinja_title(soft_str(in)), in.is_markup());
}

value filter_center(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("center", a, {{"width", false}});
    const std::string s = soft_str(in);
    const std::int64_t w = b[0].first ? rd.int_arg(b[0].second, "width") : 80;
    return value::string(rd.pad(s, count_code_points(s), w, "center"), in.is_markup());
}

value filter_count(renderer& rd, const std::string& name, value in, arglist& a) {
    rd.bind(name.c_str(), a, {});
    return value::integer(static_cast<std::int64_t>(py_len(in)));
}

value filter_default(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("default", a, {{"default_value", false}, {"boolean", false}});
    const bool boolean = b[1].first && truthy(b[1].second);
    if (in.is_undefined() || (boolean && !truthy(in)))
        return b[0].first ? b[0].second : str_value("");
    return in;
}

value filter_dictsort(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("dictsort", a, {{"case_sensitive", false}, {"by", false}, {"reverse", false}});
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
        runtime_fail("AttributeError: '" + type_name(in) + "' object has no attribute 'items'");
    std::vector<value> items;
    for (const auto& [k, v] : in.dict().items) items.push_back(tuple_of({k, v}));
    auto key = [&](const value& t) {
        const value& x = t.list().items[static_cast<std::size_t>(pos)];
        return cs ? x : ignore_case(x);
    };
    sort_values(items, key, rev);
    return value::list(std::move(items));
}

value filter_escape(renderer& rd, const std::string& name, value in, arglist& a) {
    rd.bind(name.c_str(), a, {});
    if (in.is_markup()) return in;
    return value::string(html_escape(soft_str(in)), true);
}

value filter_forceescape(renderer& rd, const std::string& name, value in, arglist& a) {
    rd.bind(name.c_str(), a, {});
    return value::string(html_escape(soft_str(in)), true);
}

value filter_first(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("first", a, {});
    if (in.is_object(object_type::generator)) {
        value x;
        if (static_cast<generator_obj&>(in.obj()).next(x)) return x;
        return value::undefined("No first item, sequence was empty.");
    }
    if (in.is_string()) {
        if (in.str().empty()) return value::undefined("No first item, sequence was empty.");
        return rd.get_item(in, value::integer(0));
    }
    std::vector<value> items = rd.materialize(in);
    if (items.empty()) return value::undefined("No first item, sequence was empty.");
    return items[0];
}

value filter_last(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("last", a, {});
    if (in.is_object(object_type::generator))
        runtime_fail("TypeError: 'generator' object is not reversible");
    if (in.is_undefined()) return value::undefined("No last item, sequence was empty.");
    if (in.is_string()) {
        if (in.str().empty()) return value::undefined("No last item, sequence was empty.");
        return rd.get_item(in, value::integer(-1));
    }
    std::vector<value> items = rd.materialize(in);
    if (items.empty()) return value::undefined("No last item, sequence was empty.");
    return items.back();
}

value filter_float(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("float", a, {{"default", false}});
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

value filter_int(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("int", a, {{"default", false}, {"base", false}});
    const value def = b[0].first ? b[0].second : value::integer(0);
    const std::int64_t base = b[1].first ? rd.int_arg(b[1].second, "base") : 10;
    if (in.is_undefined()) undefined_fail(in);
    if (in.is_int_like()) return value::integer(in.as_int());
    if (in.kind() == vk::floating) {
        const double d = in.as_float();
        if (std::isnan(d)) return def;
        if (std::isinf(d)) runtime_fail("OverflowError: cannot convert float infinity to integer");
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

value filter_format(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
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
        return str_value(rd.printf_format(soft_str(in), one, d.get()));
    }
    return str_value(rd.printf_format(soft_str(in), a));
}

value filter_indent(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("indent", a, {{"width", false}, {"first", false}, {"blank", false}});
    std::string indention = "    ";
    if (b[0].first) {
        if (b[0].second.is_string()) {
            indention = b[0].second.str();
        } else {
            const std::int64_t w = rd.int_arg(b[0].second, "indent width");
            rd.check_size(static_cast<std::size_t>(std::max<std::int64_t>(w, 0)));
            indention.assign(static_cast<std::size_t>(std::max<std::int64_t>(w, 0)), ' ');
        }
    }
    const bool first = b[1].first && truthy(b[1].second);
    const bool blank = b[2].first && truthy(b[2].second);
    if (in.is_undefined()) undefined_fail(in);
    if (!in.is_string())
        runtime_fail("TypeError: unsupported operand type(s) for +=: '" + type_name(in) +
                     "' and 'str'");
    arglist none;
    const value lines_v = rd.str_method(str_value(in.str() + "\n"), "splitlines", none);
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
    rd.check_size(rv.size());
    return value::string(std::move(rv), in.is_markup());
}

value filter_items(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("items", a, {});
    // a generator function in jinja2: the mapping check runs at the first pull
    auto src = std::make_shared<value>(std::move(in));
    auto it = std::make_shared<value>();
    return rd.lazy_generator([&rd, src, it](value& out) {
        if (it->is_undefined()) {
            if (src->is_undefined()) return false;
            if (src->kind() != vk::dict)
                runtime_fail("TypeError: Can only get item pairs from a mapping.");
            std::vector<value> items;
            for (const auto& [k, v] : src->dict().items) items.push_back(tuple_of({k, v}));
            *it = rd.make_iter(value::list(std::move(items)));
        }
        return static_cast<generator_obj&>(it->obj()).next(out);
    });
}

value filter_join(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("join", a, {{"d", false}, {"attribute", false}});
    const std::string d = b[0].first ? soft_str(b[0].second) : std::string();
    std::string r;
    bool firstv = true;
    for (auto& x : rd.materialize(in)) {
        if (!firstv) r += d;
        firstv = false;
        py_str(b[1].first ? rd.attr_path(x, b[1].second) : x, r);
        rd.check_size(r.size());
    }
    return str_value(std::move(r));
}

value filter_list(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("list", a, {});
    return value::list(rd.materialize(in));
}

value filter_map(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    // prepare_map runs at the first pull, like the generator it is in jinja2
    auto src = std::make_shared<value>(std::move(in));
    auto args = std::make_shared<arglist>(std::move(a));
    auto it = std::make_shared<value>();
    auto started = std::make_shared<bool>(false);
    auto attr_mode = std::make_shared<bool>(false);
    auto attr = std::make_shared<value>();
    auto def = std::make_shared<value>();
    auto fname = std::make_shared<value>();
    return rd.lazy_generator([=, &rd](value& out) {
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
            *it = rd.make_iter(*src);
        }
        if (it->is_undefined()) return false;
        value x;
        if (!static_cast<generator_obj&>(it->obj()).next(x)) return false;
        if (*attr_mode) {
            value r = rd.attr_path(x, *attr);
            if (!def->is_none() && r.is_undefined()) r = *def;
            out = std::move(r);
        } else {
            out = rd.call_filter_by_name(*fname, std::move(x), *args);
        }
        return true;
    });
}

/// select, reject, selectattr, rejectattr: a generator over the items of @p in that pass (or,
/// with @p select false, fail) the test, applied to the item or (@p lookup_attr) its attribute.
value select_or_reject(renderer& rd, value in, arglist& a, bool select, bool lookup_attr) {
    auto src = std::make_shared<value>(std::move(in));
    auto args = std::make_shared<arglist>(std::move(a));
    auto it = std::make_shared<value>();
    auto started = std::make_shared<bool>(false);
    auto attr = std::make_shared<value>();
    auto test = std::make_shared<value>();
    return rd.lazy_generator([=, &rd](value& out) {
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
            ar.pos.erase(ar.pos.begin(), ar.pos.begin() + static_cast<std::ptrdiff_t>(
                                                              std::min(ar.pos.size(), off + 1)));
            *it = rd.make_iter(*src);
        }
        if (it->is_undefined()) return false;
        auto& g = static_cast<generator_obj&>(it->obj());
        value x;
        while (g.next(x)) {
            const value probe = lookup_attr ? rd.attr_path(x, *attr) : x;
            bool ok;
            if (test->is_undefined()) {
                ok = truthy(probe);
            } else {
                const std::string& tn = rd.str_arg(*test, "test name");
                const int id = test_id(tn);
                if (id < 0) runtime_fail("TemplateRuntimeError: No test named '" + tn + "'.");
                ok = rd.call_test(id, probe, *args);
            }
            if (ok == select) {
                out = std::move(x);
                return true;
            }
        }
        return false;
    });
}

value filter_select(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    return select_or_reject(rd, std::move(in), a, true, false);
}

value filter_reject(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    return select_or_reject(rd, std::move(in), a, false, false);
}

value filter_selectattr(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    return select_or_reject(rd, std::move(in), a, true, true);
}

value filter_rejectattr(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    return select_or_reject(rd, std::move(in), a, false, true);
}

/// max and min (@p min): the first greatest / least item.
value min_or_max(renderer& rd, const std::string& name, value in, arglist& a, bool min) {
    auto b = rd.bind(name.c_str(), a, {{"case_sensitive", false}, {"attribute", false}});
    const bool cs = b[0].first && truthy(b[0].second);
    std::vector<value> items = rd.materialize(in);
    if (items.empty()) return value::undefined("No aggregated item, sequence was empty.");
    auto key = [&](const value& x) {
        value k = b[1].first ? rd.attr_path(x, b[1].second) : x;
        return cs ? k : ignore_case(k);
    };
    std::size_t best = 0;
    value best_key = key(items[0]);
    for (std::size_t k = 1; k < items.size(); ++k) {
        value kk = key(items[k]);
        if (min ? py_lt(kk, best_key) : py_lt(best_key, kk)) {
            best = k;
            best_key = std::move(kk);
        }
    }
    return items[best];
}

value filter_max(renderer& rd, const std::string& name, value in, arglist& a) {
    return min_or_max(rd, name, std::move(in), a, false);
}

value filter_min(renderer& rd, const std::string& name, value in, arglist& a) {
    return min_or_max(rd, name, std::move(in), a, true);
}

value filter_replace(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("replace", a, {{"old", true}, {"new", true}, {"count", false}});
    std::int64_t count = -1;
    if (b[2].first && !b[2].second.is_none()) count = rd.int_arg(b[2].second, "count");
    std::string r = py_replace(soft_str(in), soft_str(b[0].second), soft_str(b[1].second), count);
    rd.check_size(r.size());
    return str_value(std::move(r));
}

value filter_reverse(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("reverse", a, {});
    if (in.is_string()) return rd.get_slice(in, value::none(), value::none(), value::integer(-1));
    if (in.is_undefined()) return rd.make_iter(value::list({}));
    std::vector<value> items = rd.materialize(in);
    std::reverse(items.begin(), items.end());
    if (in.is_object(object_type::generator)) return value::list(std::move(items));
    return rd.make_iter(value::list(std::move(items)));
}

value filter_round(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("round", a, {{"precision", false}, {"method", false}});
    const std::int64_t precision = b[0].first ? rd.int_arg(b[0].second, "precision") : 0;
    std::string method = "common";
    if (b[1].first) method = rd.str_arg(b[1].second, "method");
    if (method != "common" && method != "ceil" && method != "floor")
        runtime_fail("FilterArgumentError: method must be common, ceil or floor");
    if (in.is_undefined()) undefined_fail(in);
    if (!in.is_number())
        runtime_fail("TypeError: type " + type_name(in) + " doesn't define __round__ method");
    if (precision < 0) unsupported("round() with a negative precision");
    if (method == "common") {
        if (in.is_int_like()) return value::integer(in.as_int());
        return value::floating(py_round(in.as_float(), precision));
    }
    const double p = std::pow(10.0, static_cast<double>(precision));
    const double x = in.to_double() * p;
    if (!std::isfinite(x)) runtime_fail("OverflowError: cannot convert float to integer");
    return value::floating((method == "ceil" ? std::ceil(x) : std::floor(x)) / p);
}

value filter_safe(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("safe", a, {});
    if (in.is_markup()) return in;
    return value::string(soft_str(in), true);
}

value filter_sort(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b =
        rd.bind("sort", a, {{"reverse", false}, {"case_sensitive", false}, {"attribute", false}});
    const bool rev = b[0].first && truthy(b[0].second);
    const bool cs = b[1].first && truthy(b[1].second);
    std::vector<value> items = rd.materialize(in);
    std::vector<value> attrs;
    if (b[2].first && b[2].second.is_string()) {
        const std::string& s = b[2].second.str();
        for (std::size_t i = 0;;) {
            const std::size_t c = s.find(',', i);
            attrs.push_back(
                str_value(s.substr(i, c == std::string::npos ? std::string::npos : c - i)));
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
                value k = rd.attr_path(x, at);
                ks.push_back(cs ? k : ignore_case(k));
            }
        }
        return value::list(std::move(ks));  // make_multi_attrgetter returns a list
    };
    sort_values(items, key, rev);
    return value::list(std::move(items));
}

value filter_string(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("string", a, {});
    if (in.is_string()) return in;
    return str_value(py_str(in));
}

value filter_sum(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("sum", a, {{"attribute", false}, {"start", false}});
    value acc = b[1].first ? b[1].second : value::integer(0);
    if (acc.is_string())
        runtime_fail("TypeError: sum() can't sum strings [use ''.join(seq) instead]");
    for (auto& x : rd.materialize(in))
        acc = rd.arith(ek::add, acc, b[0].first ? rd.attr_path(x, b[0].second) : x);
    return acc;
}

value filter_tojson(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind(
        "tojson", a,
        {{"ensure_ascii", false}, {"indent", false}, {"separators", false}, {"sort_keys", false}});
    json_opts o;
    o.ensure_ascii = b[0].first && truthy(b[0].second);
    if (b[1].first && !b[1].second.is_none()) {
        o.has_indent = true;
        if (b[1].second.is_string()) {
            o.indent = b[1].second.str();
        } else {
            const std::int64_t w = rd.int_arg(b[1].second, "indent");
            o.indent.assign(static_cast<std::size_t>(std::max<std::int64_t>(w, 0)), ' ');
        }
        o.item_sep = ",";
    }
    if (b[2].first && !b[2].second.is_none()) {
        std::vector<value> seps = rd.materialize(b[2].second);
        if (seps.size() != 2) runtime_fail("ValueError: separators must be a pair");
        o.item_sep = rd.str_arg(seps[0], "separator");
        o.key_sep = rd.str_arg(seps[1], "separator");
    }
    o.sort_keys = b[3].first && truthy(b[3].second);
    std::string out;
    json_dump(in, o, 0, out, 0);
    rd.check_size(out.size());
    return str_value(std::move(out));
}

value filter_trim(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("trim", a, {{"chars", false}});
    const value* chars = nullptr;
    if (b[0].first && !b[0].second.is_none()) {
        rd.str_arg(b[0].second, "strip arg");
        chars = &b[0].second;
    }
    return value::string(py_strip(soft_str(in), chars, true, true), in.is_markup());
}

value filter_unique(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("unique", a, {{"case_sensitive", false}, {"attribute", false}});
    const bool cs = b[0].first && truthy(b[0].second);
    const value attribute = b[1].first ? b[1].second : value::none();
    auto src = std::make_shared<value>(in);
    auto seen = std::make_shared<std::vector<value>>();
    auto it = std::make_shared<value>();
    return rd.lazy_generator([&rd, src, seen, it, cs, attribute](value& out) {
        if (it->is_undefined()) *it = rd.make_iter(*src);
        auto& g = static_cast<generator_obj&>(it->obj());
        value x;
        while (g.next(x)) {
            value k = rd.attr_path(x, attribute);
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

value filter_wordcount(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    rd.bind("wordcount", a, {});
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

value filter_batch(renderer& rd, const std::string& /*name*/, value in, arglist& a) {
    auto b = rd.bind("batch", a, {{"linecount", true}, {"fill_with", false}});
    const std::int64_t n = rd.int_arg(b[0].second, "linecount");
    if (n <= 0) unsupported("batch() with a count below 1 is not supported");
    const bool fill = b[1].first && !b[1].second.is_none();
    const value fill_with = b[1].second;
    auto src = std::make_shared<value>(std::move(in));
    auto it = std::make_shared<value>();
    return rd.lazy_generator([&rd, src, it, n, fill, fill_with](value& out) {
        if (it->is_undefined()) *it = rd.make_iter(*src);
        auto& g = static_cast<generator_obj&>(it->obj());
        std::vector<value> tmp;
        value x;
        while (static_cast<std::int64_t>(tmp.size()) < n && g.next(x)) tmp.push_back(std::move(x));
        if (tmp.empty()) return false;
        if (static_cast<std::int64_t>(tmp.size()) < n && fill)
            tmp.resize(static_cast<std::size_t>(n), fill_with);
        out = value::list(std::move(tmp));
        return true;
    });
}

// ---- the registry ----------------------------------------------------------------------------

using filter_fn = value (*)(renderer& rd, const std::string& name, value in, arglist& a);

struct filter_entry {
    std::string_view name;
    filter_fn fn;
};

/// jinja2 3.1's filters (jinja2/filters.py FILTERS, with transformers' tojson), by name. A null
/// function marks a filter this interpreter does not implement: using one is an error.
constexpr filter_entry filter_table[] = {
    {"abs", filter_abs},
    {"attr", nullptr},
    {"batch", filter_batch},
    {"capitalize", filter_capitalize},
    {"center", filter_center},
    {"count", filter_count},
    {"d", filter_default},
    {"default", filter_default},
    {"dictsort", filter_dictsort},
    {"e", filter_escape},
    {"escape", filter_escape},
    {"filesizeformat", nullptr},
    {"first", filter_first},
    {"float", filter_float},
    {"forceescape", filter_forceescape},
    {"format", filter_format},
    {"groupby", nullptr},
    {"indent", filter_indent},
    {"int", filter_int},
    {"join", filter_join},
    {"last", filter_last},
    {"length", filter_count},
    {"list", filter_list},
    {"lower", filter_lower},
    {"items", filter_items},
    {"map", filter_map},
    {"min", filter_min},
    {"max", filter_max},
    {"pprint", nullptr},
    {"random", nullptr},
    {"reject", filter_reject},
    {"rejectattr", filter_rejectattr},
    {"replace", filter_replace},
    {"reverse", filter_reverse},
    {"round", filter_round},
    {"safe", filter_safe},
    {"select", filter_select},
    {"selectattr", filter_selectattr},
    {"slice", nullptr},
    {"sort", filter_sort},
    {"string", filter_string},
    {"striptags", nullptr},
    {"sum", filter_sum},
    {"title", filter_title},
    {"trim", filter_trim},
    {"truncate", nullptr},
    {"unique", filter_unique},
    {"upper", filter_upper},
    {"urlencode", nullptr},
    {"urlize", nullptr},
    {"wordcount", filter_wordcount},
    {"wordwrap", nullptr},
    {"xmlattr", nullptr},
    {"tojson", filter_tojson},
};

}  // namespace

int filter_id(std::string_view name) noexcept { return registry_find(filter_table, name); }

value renderer::call_filter_node(const expr& e, value input, const scope_ptr& sc) {
    arglist args = eval_args(e.call, sc);
    if (e.builtin < 0)
        runtime_fail("TemplateRuntimeError: No filter named '" + e.name + "' found.");
    return call_filter(e.builtin, e.name, std::move(input), std::move(args));
}

value renderer::call_filter_by_name(const value& name, value input, arglist args) {
    const std::string& n = str_arg(name, "filter name");
    const int id = filter_id(n);
    if (id < 0) runtime_fail("TemplateRuntimeError: No filter named '" + n + "'.");
    return call_filter(id, n, std::move(input), std::move(args));
}

/// Filter @p id (a filter_id) applied to @p in, called as @p name.
value renderer::call_filter(int id, const std::string& name, value in, arglist a) {
    const filter_fn fn = filter_table[id].fn;
    if (!fn) unsupported("the '" + name + "' filter is not supported");
    return fn(*this, name, std::move(in), a);
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
