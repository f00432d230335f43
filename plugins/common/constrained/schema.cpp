// SPDX-License-Identifier: Apache-2.0
// JSON-schema subset: parsing, and the regular expression of the compact JSON that constrained
// decoding generates.
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <set>

#include "common/constrained/constrained.hpp"
#include "common/constrained/detail.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace constrained {
namespace detail {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

[[noreturn]] void bad_schema(const std::string& path, const std::string& what) {
    throw format_error("JSON schema" + (path.empty() ? std::string() : " at " + path) + ": " +
                       what);
}

[[noreturn]] void unsupported(const std::string& path, const std::string& what) {
    throw unsupported_error("JSON schema" + (path.empty() ? std::string() : " at " + path) + ": " +
                            what);
}

std::string number_text(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15) {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
        return std::string(buf, r.ptr);
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::optional<double> number_of(element e) {
    switch (e.type()) {
        case element_type::INT64:
            return static_cast<double>(std::int64_t(e));
        case element_type::UINT64:
            return static_cast<double>(std::uint64_t(e));
        case element_type::DOUBLE:
            return double(e);
        default:
            return std::nullopt;
    }
}

/// Canonical text of a value: compact, object keys sorted, numbers by value.
std::string canonical(element e) {
    switch (e.type()) {
        case element_type::STRING:
            return json_string_literal(std::string_view(e));
        case element_type::INT64:
        case element_type::UINT64:
        case element_type::DOUBLE:
            return number_text(*number_of(e));
        case element_type::BOOL:
            return bool(e) ? "true" : "false";
        case element_type::NULL_VALUE:
            return "null";
        case element_type::ARRAY: {
            std::string s = "[";
            bool first = true;
            for (element x : simdjson::dom::array(e)) {
                if (!first) s += ',';
                first = false;
                s += canonical(x);
            }
            return s + "]";
        }
        case element_type::OBJECT: {
            std::vector<std::pair<std::string, std::string>> kv;
            for (auto f : simdjson::dom::object(e))
                kv.emplace_back(json_string_literal(f.key), canonical(f.value));
            std::sort(kv.begin(), kv.end());
            std::string s = "{";
            for (std::size_t i = 0; i < kv.size(); ++i) {
                if (i) s += ',';
                s += kv[i].first + ":" + kv[i].second;
            }
            return s + "}";
        }
    }
    return {};
}

bool is_scalar(element e) {
    auto t = e.type();
    return t != element_type::ARRAY && t != element_type::OBJECT;
}

std::uint64_t get_count(element v, const std::string& path, std::string_view key) {
    if (v.type() == element_type::UINT64) return std::uint64_t(v);
    if (v.type() == element_type::INT64 && std::int64_t(v) >= 0)
        return static_cast<std::uint64_t>(std::int64_t(v));
    if (v.type() == element_type::DOUBLE && double(v) >= 0 && double(v) == std::floor(double(v)))
        return static_cast<std::uint64_t>(double(v));
    bad_schema(path, std::string(key) + " must be a non-negative integer");
}

double get_bound(element v, const std::string& path, std::string_view key) {
    auto d = number_of(v);
    if (!d) bad_schema(path, std::string(key) + " must be a number");
    return *d;
}

std::unique_ptr<node> parse_node(element e, const std::string& path) {
    auto n = std::make_unique<node>();
    if (e.type() == element_type::BOOL) {
        if (bool(e)) return n;  // `true`: anything
        unsupported(path, "the schema `false` (nothing is valid)");
    }
    if (e.type() != element_type::OBJECT) bad_schema(path, "a schema must be an object");
    simdjson::dom::object obj(e);
    static const std::set<std::string_view> annotations = {
        "title", "description", "default", "examples", "$schema", "$id", "$comment"};
    std::optional<element> required;
    bool excl_min_flag = false, excl_max_flag = false;  // draft-4 boolean forms
    for (auto f : obj) {
        std::string_view k = f.key;
        element v = f.value;
        if (annotations.count(k)) continue;
        if (k == "type") {
            std::string_view t;
            if (v.get_string().get(t))
                unsupported(path, "`type` must be one string (type lists are not supported)");
            if (t == "object")
                n->type = node::kind::object;
            else if (t == "array")
                n->type = node::kind::array;
            else if (t == "string")
                n->type = node::kind::string;
            else if (t == "integer")
                n->type = node::kind::integer;
            else if (t == "number")
                n->type = node::kind::number;
            else if (t == "boolean")
                n->type = node::kind::boolean;
            else if (t == "null")
                n->type = node::kind::null;
            else
                bad_schema(path, "unknown type '" + std::string(t) + "'");
        } else if (k == "properties") {
            if (v.type() != element_type::OBJECT) bad_schema(path, "properties must be an object");
            for (auto p : simdjson::dom::object(v)) {
                node::property prop;
                prop.name = std::string(p.key);
                prop.schema = parse_node(p.value, path + "/properties/" + prop.name);
                n->properties.push_back(std::move(prop));
            }
        } else if (k == "required") {
            if (v.type() != element_type::ARRAY) bad_schema(path, "required must be an array");
            required = v;
        } else if (k == "additionalProperties") {
            if (v.type() != element_type::BOOL)
                unsupported(path, "additionalProperties must be true or false");
            n->additional_properties = bool(v);
        } else if (k == "items") {
            if (v.type() == element_type::ARRAY)
                unsupported(path, "tuple `items` (an array of schemas)");
            n->items = parse_node(v, path + "/items");
        } else if (k == "minItems") {
            n->min_items = get_count(v, path, k);
        } else if (k == "maxItems") {
            n->max_items = get_count(v, path, k);
        } else if (k == "minLength") {
            n->min_length = get_count(v, path, k);
        } else if (k == "maxLength") {
            n->max_length = get_count(v, path, k);
        } else if (k == "minimum") {
            n->minimum = get_bound(v, path, k);
        } else if (k == "maximum") {
            n->maximum = get_bound(v, path, k);
        } else if (k == "exclusiveMinimum") {
            if (v.type() == element_type::BOOL)
                excl_min_flag = bool(v);
            else
                n->exclusive_minimum = get_bound(v, path, k);
        } else if (k == "exclusiveMaximum") {
            if (v.type() == element_type::BOOL)
                excl_max_flag = bool(v);
            else
                n->exclusive_maximum = get_bound(v, path, k);
        } else if (k == "enum" || k == "const") {
            std::vector<element> values;
            if (k == "enum") {
                if (v.type() != element_type::ARRAY || simdjson::dom::array(v).size() == 0)
                    bad_schema(path, "enum must be a non-empty array");
                for (element x : simdjson::dom::array(v)) values.push_back(x);
            } else {
                values.push_back(v);
            }
            std::vector<std::string> canon, text;
            for (element x : values) {
                canon.push_back(canonical(x));
                text.push_back(is_scalar(x) ? canonical(x) : std::string());
            }
            if (n->allowed) {  // enum and const together: the intersection
                std::vector<std::string> c2, t2;
                for (std::size_t i = 0; i < canon.size(); ++i)
                    if (std::find(n->allowed->begin(), n->allowed->end(), canon[i]) !=
                        n->allowed->end()) {
                        c2.push_back(canon[i]);
                        t2.push_back(text[i]);
                    }
                canon = std::move(c2);
                text = std::move(t2);
            }
            n->allowed = std::move(canon);
            n->allowed_text = std::move(text);
        } else {
            unsupported(path, "keyword '" + std::string(k) +
                                  "' is not supported (supported: type, properties, required, "
                                  "additionalProperties, items, minItems, maxItems, minLength, "
                                  "maxLength, minimum, maximum, exclusiveMinimum, "
                                  "exclusiveMaximum, enum, const)");
        }
    }
    if (excl_min_flag) {
        if (!n->minimum) bad_schema(path, "exclusiveMinimum: true without minimum");
        n->exclusive_minimum = n->minimum;
        n->minimum.reset();
    }
    if (excl_max_flag) {
        if (!n->maximum) bad_schema(path, "exclusiveMaximum: true without maximum");
        n->exclusive_maximum = n->maximum;
        n->maximum.reset();
    }
    if (required) {
        for (element r : simdjson::dom::array(*required)) {
            std::string_view name;
            if (r.get_string().get(name)) bad_schema(path, "required must list strings");
            bool found = false;
            for (auto& p : n->properties)
                if (p.name == name) p.required = found = true;
            if (!found)
                bad_schema(path, "required property '" + std::string(name) +
                                     "' is not among the properties");
        }
    }
    if (n->max_items && *n->max_items < n->min_items)
        bad_schema(path, "maxItems is below minItems");
    if (n->max_length && *n->max_length < n->min_length)
        bad_schema(path, "maxLength is below minLength");
    return n;
}

// ---- regular expression of the generated JSON --------------------------------------------------

rx digits(std::size_t k) {
    rx r;
    for (std::size_t i = 0; i < k; ++i) r.kids.push_back(rx::range('0', '9'));
    return r;
}

/// Fixed-width decimal strings between @p lo and @p hi (same length, lo <= hi).
rx digits_between(const std::string& lo, const std::string& hi) {
    const std::size_t n = lo.size();
    if (n == 0) return rx::seq({});
    const auto a = static_cast<unsigned char>(lo[0]), b = static_cast<unsigned char>(hi[0]);
    const std::string lo_rest = lo.substr(1), hi_rest = hi.substr(1);
    if (a == b) return rx::seq({rx::byte(a), digits_between(lo_rest, hi_rest)});
    const bool lo_zero = lo_rest.find_first_not_of('0') == std::string::npos;
    const bool hi_nine = hi_rest.find_first_not_of('9') == std::string::npos;
    std::vector<rx> alts;
    if (!lo_zero)
        alts.push_back(rx::seq({rx::byte(a), digits_between(lo_rest, std::string(n - 1, '9'))}));
    const unsigned char first = lo_zero ? a : static_cast<unsigned char>(a + 1);
    const unsigned char last = hi_nine ? b : static_cast<unsigned char>(b - 1);
    if (first <= last) alts.push_back(rx::seq({rx::range(first, last), digits(n - 1)}));
    if (!hi_nine)
        alts.push_back(rx::seq({rx::byte(b), digits_between(std::string(n - 1, '0'), hi_rest)}));
    return rx::alt(std::move(alts));
}

/// Non-negative integers in [lo, hi] (hi absent = unbounded), canonical decimal.
rx nonneg_range(std::uint64_t lo, std::optional<std::uint64_t> hi) {
    const std::string los = std::to_string(lo);
    if (!hi) {
        // [lo, 10^len(lo) - 1] plus every longer number.
        std::vector<rx> alts;
        alts.push_back(digits_between(los, std::string(los.size(), '9')));
        alts.push_back(rx::seq({rx::range('1', '9'), digits(los.size()), rx::star(digits(1))}));
        return rx::alt(std::move(alts));
    }
    const std::string his = std::to_string(*hi);
    std::vector<rx> alts;
    for (std::size_t d = los.size(); d <= his.size(); ++d) {
        std::string l = d == los.size() ? los : "1" + std::string(d - 1, '0');
        std::string h = d == his.size() ? his : std::string(d, '9');
        alts.push_back(digits_between(l, h));
    }
    return rx::alt(std::move(alts));
}

/// Generated integers have at most this many digits (they fit int64 and parse exactly), and so
/// do the integer parts of generated numbers.
constexpr std::size_t max_digits = 18;
constexpr std::int64_t max_generated = 999999999999999999;  // 10^18 - 1

std::uint64_t magnitude(std::int64_t v) {  // |v| for v < 0, without overflow
    return static_cast<std::uint64_t>(-(v + 1)) + 1;
}

/// One JSON string character: unescaped UTF-8 (valid sequences only) or an escape.
rx string_char() {
    std::bitset<256> plain;
    for (unsigned c = 0x20; c < 0x80; ++c)
        if (c != '"' && c != '\\') plain.set(c);
    const rx cont = rx::range(0x80, 0xBF);
    std::vector<rx> alts;
    alts.push_back(rx::byte_set(plain));
    alts.push_back(rx::seq({rx::range(0xC2, 0xDF), cont}));
    alts.push_back(rx::seq({rx::byte(0xE0), rx::range(0xA0, 0xBF), cont}));
    alts.push_back(rx::seq({rx::range(0xE1, 0xEC), cont, cont}));
    alts.push_back(rx::seq({rx::byte(0xED), rx::range(0x80, 0x9F), cont}));
    alts.push_back(rx::seq({rx::range(0xEE, 0xEF), cont, cont}));
    alts.push_back(rx::seq({rx::byte(0xF0), rx::range(0x90, 0xBF), cont, cont}));
    alts.push_back(rx::seq({rx::range(0xF1, 0xF3), cont, cont, cont}));
    alts.push_back(rx::seq({rx::byte(0xF4), rx::range(0x80, 0x8F), cont, cont}));
    // Escapes; \u of a surrogate only as a high-low pair (simdjson rejects lone surrogates).
    std::bitset<256> simple;
    for (char c : std::string_view("\"\\/bfnrt")) simple.set(static_cast<unsigned char>(c));
    std::bitset<256> hex, hex_not_d, hex_0_7, hex_89ab, hex_cdef, d;
    for (char c : std::string_view("0123456789abcdefABCDEF"))
        hex.set(static_cast<unsigned char>(c));
    hex_not_d = hex;
    hex_not_d.reset('d');
    hex_not_d.reset('D');
    for (char c : std::string_view("01234567")) hex_0_7.set(static_cast<unsigned char>(c));
    for (char c : std::string_view("89abAB")) hex_89ab.set(static_cast<unsigned char>(c));
    for (char c : std::string_view("cdefCDEF")) hex_cdef.set(static_cast<unsigned char>(c));
    d.set('d');
    d.set('D');
    const rx h = rx::byte_set(hex);
    rx bmp = rx::alt({rx::seq({rx::byte_set(hex_not_d), h, h, h}),
                      rx::seq({rx::byte_set(d), rx::byte_set(hex_0_7), h, h})});
    rx pair = rx::seq({rx::byte_set(d), rx::byte_set(hex_89ab), h, h, rx::literal("\\u"),
                       rx::byte_set(d), rx::byte_set(hex_cdef), h, h});
    alts.push_back(
        rx::seq({rx::byte('\\'), rx::alt({rx::byte_set(simple), rx::seq({rx::byte('u'), bmp}),
                                          rx::seq({rx::byte('u'), pair})})}));
    return rx::alt(std::move(alts));
}

/// @p min to @p max copies of @p r (max absent = unbounded), nested so the DFA stays small.
rx repeat(const rx& r, std::uint64_t min, std::optional<std::uint64_t> max) {
    rx out;
    for (std::uint64_t i = 0; i < min; ++i) out.kids.push_back(r);
    if (!max) {
        out.kids.push_back(rx::star(r));
    } else if (*max > min) {
        rx tail = rx::opt(r);
        for (std::uint64_t i = min + 1; i < *max; ++i) tail = rx::opt(rx::seq({r, tail}));
        out.kids.push_back(std::move(tail));
    }
    return out;
}

constexpr std::uint64_t max_counted = 1024;  // bounds beyond this would blow up the DFA

rx to_regex_at(const node& n, const std::string& path) {
    if (n.allowed) {
        std::vector<rx> alts;
        for (const auto& t : n.allowed_text) {
            if (t.empty())
                unsupported(path, "enum/const with arrays or objects (constrained decoding)");
            alts.push_back(rx::literal(t));
        }
        if (alts.empty()) bad_schema(path, "enum and const have no value in common");
        return rx::alt(std::move(alts));
    }
    const rx sp = rx::opt(rx::byte(' '));
    switch (n.type) {
        case node::kind::any:
            unsupported(path,
                        "a schema without type, enum or const (constrained decoding needs "
                        "to know what to generate)");
        case node::kind::object: {
            rx r = rx::literal("{");
            bool first = true;
            for (const auto& p : n.properties) {
                if (!first) r.kids.push_back(rx::seq({rx::byte(','), sp}));
                first = false;
                r.kids.push_back(rx::literal(json_string_literal(p.name)));
                r.kids.push_back(rx::byte(':'));
                r.kids.push_back(sp);
                r.kids.push_back(to_regex_at(*p.schema, path + "/properties/" + p.name));
            }
            r.kids.push_back(rx::byte('}'));
            return r;
        }
        case node::kind::array: {
            if (!n.items) unsupported(path, "an array without items (constrained decoding)");
            if (n.min_items > max_counted || (n.max_items && *n.max_items > max_counted))
                unsupported(path, "minItems/maxItems above " + std::to_string(max_counted));
            const rx item = to_regex_at(*n.items, path + "/items");
            rx r = rx::literal("[");
            if (!n.max_items || *n.max_items > 0) {
                const rx more = rx::seq({rx::byte(','), sp, item});
                std::optional<std::uint64_t> more_max;
                if (n.max_items) more_max = *n.max_items - 1;
                rx body =
                    rx::seq({item, repeat(more, n.min_items ? n.min_items - 1 : 0, more_max)});
                r.kids.push_back(n.min_items ? std::move(body) : rx::opt(std::move(body)));
            }
            r.kids.push_back(rx::byte(']'));
            return r;
        }
        case node::kind::string: {
            if (n.min_length > max_counted || (n.max_length && *n.max_length > max_counted))
                unsupported(path, "minLength/maxLength above " + std::to_string(max_counted));
            return rx::seq(
                {rx::byte('"'), repeat(string_char(), n.min_length, n.max_length), rx::byte('"')});
        }
        case node::kind::integer: {
            std::optional<std::int64_t> lo, hi;
            constexpr double lim = 9.0e18;
            if (n.minimum) lo = static_cast<std::int64_t>(std::ceil(std::max(*n.minimum, -lim)));
            if (n.exclusive_minimum) {
                auto v =
                    static_cast<std::int64_t>(std::floor(std::max(*n.exclusive_minimum, -lim))) + 1;
                lo = lo ? std::max(*lo, v) : v;
            }
            if (n.maximum) hi = static_cast<std::int64_t>(std::floor(std::min(*n.maximum, lim)));
            if (n.exclusive_maximum) {
                auto v =
                    static_cast<std::int64_t>(std::ceil(std::min(*n.exclusive_maximum, lim))) - 1;
                hi = hi ? std::min(*hi, v) : v;
            }
            if (lo && hi && *lo > *hi) bad_schema(path, "no integer lies within the bounds");
            return integer_range(lo, hi);
        }
        case node::kind::number: {
            if (n.minimum || n.maximum || n.exclusive_minimum || n.exclusive_maximum)
                unsupported(path,
                            "minimum/maximum on a number (constrained decoding bounds "
                            "integers only)");
            // Digit counts bounded so that every generated number parses as a double.
            rx intpart =
                rx::alt({rx::byte('0'),
                         rx::seq({rx::range('1', '9'), repeat(digits(1), 0, max_digits - 1)})});
            rx frac = rx::opt(rx::seq({rx::byte('.'), digits(1), rx::star(digits(1))}));
            std::bitset<256> e, sign;
            e.set('e');
            e.set('E');
            sign.set('+');
            sign.set('-');
            rx exp = rx::opt(rx::seq(
                {rx::byte_set(e), rx::opt(rx::byte_set(sign)), digits(1), rx::opt(digits(1))}));
            return rx::seq({rx::opt(rx::byte('-')), intpart, frac, exp});
        }
        case node::kind::boolean:
            return rx::alt({rx::literal("true"), rx::literal("false")});
        case node::kind::null:
            return rx::literal("null");
    }
    return {};
}

}  // namespace

std::string json_string_literal(std::string_view s) {
    std::string out = "\"";
    io::json_writer::escape_to(out, s);
    return out + "\"";
}

std::unique_ptr<node> parse_schema(std::string_view schema_json) {
    simdjson::dom::parser parser;
    element root;
    if (auto err = parser.parse(schema_json.data(), schema_json.size()).get(root))
        throw format_error(std::string("JSON schema: not valid JSON (") +
                           simdjson::error_message(err) + ")");
    return parse_node(root, "");
}

rx integer_range(std::optional<std::int64_t> lo, std::optional<std::int64_t> hi) {
    // Open ends stop at 18 digits, so every generated integer parses as an int64.
    if (!lo) lo = -max_generated;
    if (!hi) hi = max_generated;
    std::vector<rx> alts;
    if (!lo || *lo < 0) {  // negative part: magnitudes in [max(1, -hi), -lo]
        std::uint64_t mlo = 1;
        if (hi && *hi < 0) mlo = magnitude(*hi);
        std::optional<std::uint64_t> mhi;
        if (lo) mhi = magnitude(*lo);
        alts.push_back(rx::seq({rx::byte('-'), nonneg_range(mlo, mhi)}));
    }
    if (!hi || *hi >= 0) {
        std::optional<std::uint64_t> h;
        if (hi) h = static_cast<std::uint64_t>(*hi);
        alts.push_back(nonneg_range(lo && *lo > 0 ? static_cast<std::uint64_t>(*lo) : 0, h));
    }
    return rx::alt(std::move(alts));
}

rx to_regex(const node& n) { return to_regex_at(n, ""); }

}  // namespace detail

}  // namespace constrained
POLYGLOT_END_NAMESPACE
