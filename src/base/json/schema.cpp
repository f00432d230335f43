// SPDX-License-Identifier: Apache-2.0
// JSON Schema validation over simdjson's DOM (see schema.hpp for the keywords).
#include "base/json/schema.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

bool is_number(element e) {
    const auto t = e.type();
    return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double as_double(element e) {
    switch (e.type()) {
        case element_type::INT64:
            return double(std::int64_t(e));
        case element_type::UINT64:
            return double(std::uint64_t(e));
        default:
            return double(e);
    }
}

bool is_integer(element e) {
    if (e.type() == element_type::INT64 || e.type() == element_type::UINT64) return true;
    if (e.type() != element_type::DOUBLE) return false;
    const double d = double(e);
    return std::isfinite(d) && std::floor(d) == d;
}

/// Structural equality of two JSON values (numbers by value: 1 == 1.0).
bool equal(element a, element b) {
    if (is_number(a) && is_number(b)) return as_double(a) == as_double(b);
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case element_type::STRING:
            return std::string_view(a) == std::string_view(b);
        case element_type::BOOL:
            return bool(a) == bool(b);
        case element_type::NULL_VALUE:
            return true;
        case element_type::ARRAY: {
            array x = a, y = b;
            if (x.size() != y.size()) return false;
            auto i = x.begin(), j = y.begin();
            for (; i != x.end(); ++i, ++j)
                if (!equal(*i, *j)) return false;
            return true;
        }
        case element_type::OBJECT: {
            object x = a, y = b;
            if (x.size() != y.size()) return false;
            for (auto [k, v] : x) {
                element w;
                if (y[k].get(w) || !equal(v, w)) return false;
            }
            return true;
        }
        default:
            return false;
    }
}

const char* type_name(element e) {
    switch (e.type()) {
        case element_type::ARRAY:
            return "array";
        case element_type::OBJECT:
            return "object";
        case element_type::STRING:
            return "string";
        case element_type::BOOL:
            return "boolean";
        case element_type::NULL_VALUE:
            return "null";
        default:
            return is_integer(e) ? "integer" : "number";
    }
}

bool has_type(element e, std::string_view t) {
    if (t == "number") return is_number(e);
    if (t == "integer") return is_integer(e);
    if (t == "string") return e.type() == element_type::STRING;
    if (t == "boolean") return e.type() == element_type::BOOL;
    if (t == "null") return e.type() == element_type::NULL_VALUE;
    if (t == "array") return e.type() == element_type::ARRAY;
    if (t == "object") return e.type() == element_type::OBJECT;
    return false;
}

std::size_t code_points(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

template <class Value>
std::string show(Value e) {
    std::string s = simdjson::minify(e);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

std::string fmt(double d) {
    if (std::floor(d) == d && std::abs(d) < 1e15) return std::to_string(std::int64_t(d));
    std::string s = std::to_string(d);
    return s;
}

class validator {
  public:
    explicit validator(element root) : root_(root) {}

    /// "" or the first violation.
    std::string check(element schema, element v, const std::string& at, int depth = 0) {
        if (depth > 64) return at + ": the schema nests too deeply ($ref cycle?)";
        bool b;
        if (!schema.get(b)) return b ? std::string() : at + ": no value is allowed here";
        object s;
        if (schema.get(s)) return at + ": the schema is not an object";

        std::string_view ref;
        if (!s["$ref"].get(ref)) {
            element target;
            if (auto why = resolve(ref, target); !why.empty()) return at + ": " + why;
            if (auto why = check(target, v, at, depth + 1); !why.empty()) return why;
        }
        element t;
        if (!s["type"].get(t)) {
            bool ok = false;
            std::string_view one;
            array many;
            if (!t.get(one)) {
                ok = has_type(v, one);
            } else if (!t.get(many)) {
                for (element x : many) {
                    std::string_view n;
                    if (!x.get(n) && has_type(v, n)) ok = true;
                }
            }
            if (!ok) return at + ": " + show(v) + " is " + type_name(v) + ", not " + show(t);
        }
        array en;
        if (!s["enum"].get(en)) {
            bool found = false;
            for (element x : en) found = found || equal(x, v);
            if (!found) return at + ": " + show(v) + " is not one of " + show(en);
        }
        element c;
        if (!s["const"].get(c) && !equal(c, v)) return at + ": " + show(v) + " is not " + show(c);

        if (is_number(v)) {
            const double x = as_double(v);
            double lim;
            element e;
            if (!s["minimum"].get(e) && is_number(e) && x < (lim = as_double(e)))
                return at + ": " + show(v) + " is less than the minimum " + fmt(lim);
            if (!s["maximum"].get(e) && is_number(e) && x > (lim = as_double(e)))
                return at + ": " + show(v) + " is greater than the maximum " + fmt(lim);
            if (!s["exclusiveMinimum"].get(e) && is_number(e) && x <= (lim = as_double(e)))
                return at + ": " + show(v) + " is not greater than " + fmt(lim);
            if (!s["exclusiveMaximum"].get(e) && is_number(e) && x >= (lim = as_double(e)))
                return at + ": " + show(v) + " is not less than " + fmt(lim);
            if (!s["multipleOf"].get(e) && is_number(e) && (lim = as_double(e)) > 0) {
                const double q = x / lim;
                if (std::abs(q - std::round(q)) > 1e-9)
                    return at + ": " + show(v) + " is not a multiple of " + fmt(lim);
            }
        }
        std::string_view str;
        if (!v.get(str)) {
            const std::size_t n = code_points(str);
            std::uint64_t lim;
            if (!s["minLength"].get(lim) && n < lim)
                return at + ": the string is shorter than " + std::to_string(lim);
            if (!s["maxLength"].get(lim) && n > lim)
                return at + ": the string is longer than " + std::to_string(lim);
            std::string_view pat;
            if (!s["pattern"].get(pat)) {
                try {
                    if (!std::regex_search(std::string(str), std::regex(std::string(pat))))
                        return at + ": the string does not match the pattern " + std::string(pat);
                } catch (const std::regex_error&) {
                    return at + ": the schema's pattern is not a valid regular expression";
                }
            }
        }
        array arr;
        if (!v.get(arr)) {
            std::uint64_t lim;
            if (!s["minItems"].get(lim) && arr.size() < lim)
                return at + ": fewer than " + std::to_string(lim) + " items";
            if (!s["maxItems"].get(lim) && arr.size() > lim)
                return at + ": more than " + std::to_string(lim) + " items";
            array prefix;
            const bool has_prefix = !s["prefixItems"].get(prefix);
            element items;
            const bool has_items = !s["items"].get(items);
            std::size_t i = 0;
            auto pit = has_prefix ? prefix.begin() : array::iterator();
            for (element x : arr) {
                const std::string here = at + "/" + std::to_string(i);
                if (has_prefix && i < prefix.size()) {
                    if (auto why = check(*pit, x, here, depth + 1); !why.empty()) return why;
                    ++pit;
                } else if (has_items) {
                    if (auto why = check(items, x, here, depth + 1); !why.empty()) return why;
                }
                ++i;
            }
        }
        object obj;
        if (!v.get(obj)) {
            array req;
            if (!s["required"].get(req))
                for (element r : req) {
                    std::string_view name;
                    if (!r.get(name) && obj[name].error())
                        return at + ": the required property '" + std::string(name) +
                               "' is missing";
                }
            object props;
            const bool has_props = !s["properties"].get(props);
            element extra;
            const bool has_extra = !s["additionalProperties"].get(extra);
            for (auto [k, x] : obj) {
                const std::string here = at + "/" + std::string(k);
                element ps;
                if (has_props && !props[k].get(ps)) {
                    if (auto why = check(ps, x, here, depth + 1); !why.empty()) return why;
                } else if (has_extra) {
                    if (auto why = check(extra, x, here, depth + 1); !why.empty())
                        return why == here + ": no value is allowed here"
                                   ? at + ": the property '" + std::string(k) + "' is not allowed"
                                   : why;
                }
            }
        }
        array group;
        if (!s["allOf"].get(group))
            for (element g : group)
                if (auto why = check(g, v, at, depth + 1); !why.empty()) return why;
        if (!s["anyOf"].get(group)) {
            std::string first;
            bool any = false;
            for (element g : group) {
                auto why = check(g, v, at, depth + 1);
                if (why.empty()) {
                    any = true;
                    break;
                }
                if (first.empty()) first = why;
            }
            if (!any) return at + ": matches none of anyOf (" + first + ")";
        }
        if (!s["oneOf"].get(group)) {
            std::size_t n = 0;
            for (element g : group)
                if (check(g, v, at, depth + 1).empty()) ++n;
            if (n != 1)
                return at + ": matches " + std::to_string(n) + " of oneOf's schemas, not one";
        }
        element no;
        if (!s["not"].get(no) && check(no, v, at, depth + 1).empty())
            return at + ": matches the schema of 'not'";
        return {};
    }

  private:
    std::string resolve(std::string_view ref, element& out) {
        if (ref == "#") {
            out = root_;
            return {};
        }
        if (ref.substr(0, 2) != "#/") return "only local $ref (#/...) is supported";
        element cur = root_;
        std::string_view rest = ref.substr(2);
        while (!rest.empty()) {
            const auto slash = rest.find('/');
            std::string part(rest.substr(0, slash));
            rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
            for (std::size_t p; (p = part.find("~1")) != std::string::npos;)
                part.replace(p, 2, "/");
            for (std::size_t p; (p = part.find("~0")) != std::string::npos;)
                part.replace(p, 2, "~");
            if (cur.at_key(part).get(cur)) return "$ref '" + std::string(ref) + "' not found";
        }
        out = cur;
        return {};
    }
    element root_;
};

/// The first object (JSON Pointer) that repeats a key: which value counts is undefined
/// (RFC 8259 §4), so such an output is not a valid instance of any object schema.
std::string duplicate_key(element e, const std::string& path) {
    if (e.type() == element_type::OBJECT) {
        std::vector<std::string_view> keys;
        for (auto f : object(e)) {
            if (std::find(keys.begin(), keys.end(), f.key) != keys.end())
                return (path.empty() ? "(root)" : path) + ": duplicate key \"" +
                       std::string(f.key) + "\"";
            keys.push_back(f.key);
            if (auto w = duplicate_key(f.value, path + "/" + std::string(f.key)); !w.empty())
                return w;
        }
    } else if (e.type() == element_type::ARRAY) {
        std::size_t i = 0;
        for (element x : array(e))
            if (auto w = duplicate_key(x, path + "/" + std::to_string(i++)); !w.empty()) return w;
    }
    return {};
}

}  // namespace

std::string validate_json_schema(std::string_view schema, std::string_view instance) {
    simdjson::dom::parser ps, pi;
    element s, v;
    if (ps.parse(schema.data(), schema.size()).get(s)) return "the schema is not valid JSON";
    if (pi.parse(instance.data(), instance.size()).get(v)) return "the output is not valid JSON";
    if (auto dup = duplicate_key(v, ""); !dup.empty()) return dup;
    validator val(s);
    std::string why = val.check(s, v, "");
    if (!why.empty() && why.front() == ':') why = "(root)" + why;
    return why;
}

}  // namespace model
POLYGLOT_END_NAMESPACE
