// SPDX-License-Identifier: Apache-2.0
/// @file Internals of json_schema: the parsed schema tree and the regular-expression tree the
/// DFA is built from. Not part of the module's interface.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace constrained::detail {

/// One schema node of the subset.
struct node {
    enum class kind { any, object, array, string, integer, number, boolean, null };
    kind type = kind::any;  ///< any: only enum/const constrain it
    // object
    struct property {
        std::string name;
        std::unique_ptr<node> schema;
        bool required = false;
    };
    std::vector<property> properties;
    bool additional_properties = true;  ///< JSON Schema's default
    // array
    std::unique_ptr<node> items;  ///< null = any items
    std::uint64_t min_items = 0;
    std::optional<std::uint64_t> max_items;
    // string
    std::uint64_t min_length = 0;
    std::optional<std::uint64_t> max_length;
    // integer / number
    std::optional<double> minimum, maximum, exclusive_minimum, exclusive_maximum;
    // enum / const: the allowed values as canonical JSON (canonical() below)
    std::optional<std::vector<std::string>> allowed;
    /// The same values as compact JSON text to generate (strings minimally escaped).
    std::vector<std::string> allowed_text;
};

/// Parses @p schema_json into the tree (throws format_error / unsupported_error).
std::unique_ptr<node> parse_schema(std::string_view schema_json);

/// Regular expression over bytes.
struct rx {
    enum class op { bytes, seq, alt, star, opt };
    op o = op::seq;  ///< an empty seq matches the empty string
    std::bitset<256> set;
    std::vector<rx> kids;

    static rx byte_set(std::bitset<256> s) {
        rx r;
        r.o = op::bytes;
        r.set = s;
        return r;
    }
    static rx byte(unsigned char c) {
        std::bitset<256> s;
        s.set(c);
        return byte_set(s);
    }
    static rx range(unsigned char lo, unsigned char hi) {
        std::bitset<256> s;
        for (unsigned c = lo; c <= hi; ++c) s.set(c);
        return byte_set(s);
    }
    static rx literal(std::string_view s) {
        rx r;
        for (char c : s) r.kids.push_back(byte(static_cast<unsigned char>(c)));
        return r;
    }
    static rx seq(std::vector<rx> k) {
        rx r;
        r.kids = std::move(k);
        return r;
    }
    static rx alt(std::vector<rx> k) {
        rx r;
        r.o = op::alt;
        r.kids = std::move(k);
        return r;
    }
    static rx star(rx k) {
        rx r;
        r.o = op::star;
        r.kids.push_back(std::move(k));
        return r;
    }
    static rx opt(rx k) {
        rx r;
        r.o = op::opt;
        r.kids.push_back(std::move(k));
        return r;
    }
};

/// The schema as a regular expression over compact JSON bytes (throws unsupported_error for
/// what compile() does not generate).
rx to_regex(const node& n);

/// Decimal integers in [lo, hi] (either bound may be absent), no leading zeros, no "-0".
rx integer_range(std::optional<std::int64_t> lo, std::optional<std::int64_t> hi);

/// Regular expression → minimal DFA: transition table (states × 256, -1 = dead) and accepting
/// flags; state 0 is the start.
void build_dfa(const rx& r, std::vector<std::int32_t>& next, std::vector<std::uint8_t>& accept);

/// Canonical JSON of a parsed value, for enum/const comparison (numbers by value).
std::string json_string_literal(std::string_view s);

}  // namespace constrained::detail
POLYGLOT_END_NAMESPACE
