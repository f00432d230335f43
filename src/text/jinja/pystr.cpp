// SPDX-License-Identifier: Apache-2.0
// Python's Unicode-aware str methods (lower, upper, title, isalpha, isprintable, ...) over UTF-8,
// with ICU's character properties and full case mappings (Python and ICU both implement the
// Unicode Character Database's SpecialCasing rules, including final sigma), and the str helpers
// behind the renderer's str methods and filters (strip, split, replace, markupsafe's escape,
// float(str), int(str, base)).
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/pyobject.hpp"
#include "text/jinja/pyunicode.hpp"
#include "text/jinja/value.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

bool is_ascii(std::string_view s) noexcept {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

namespace {

std::u16string to_u16(std::string_view s) {
    std::u16string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const char32_t c = decode_utf8(s, i);
        if (c < 0x10000) {
            out += static_cast<char16_t>(c);
        } else {
            out += static_cast<char16_t>(U16_LEAD(c));
            out += static_cast<char16_t>(U16_TRAIL(c));
        }
    }
    return out;
}

std::string from_u16(const std::u16string& s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        char32_t c = s[i++];
        if (U16_IS_LEAD(c) && i < s.size() && U16_IS_TRAIL(s[i]))
            c = U16_GET_SUPPLEMENTARY(c, s[i++]);
        append_utf8(out, c);
    }
    return out;
}

using case_fn = int32_t (*)(UChar*, int32_t, const UChar*, int32_t, const char*, UErrorCode*);

std::string icu_case(std::string_view s, case_fn fn) {
    const std::u16string in = to_u16(s);
    std::u16string out(in.size() * 3 + 8, u'\0');
    UErrorCode err = U_ZERO_ERROR;
    int32_t n =
        fn(reinterpret_cast<UChar*>(out.data()), static_cast<int32_t>(out.size()),
           reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()), "", &err);
    if (err == U_BUFFER_OVERFLOW_ERROR) {
        out.assign(static_cast<std::size_t>(n), u'\0');
        err = U_ZERO_ERROR;
        n = fn(reinterpret_cast<UChar*>(out.data()), static_cast<int32_t>(out.size()),
               reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()), "",
               &err);
    }
    if (U_FAILURE(err)) unsupported("case mapping failed");
    out.resize(static_cast<std::size_t>(n));
    return from_u16(out);
}

std::string ascii_map(std::string_view s, bool upper) {
    std::string out(s);
    for (char& c : out) {
        if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return out;
}

/// The full title-case mapping of one code point (Python's _PyUnicode_ToTitleFull).
std::string title_char(char32_t c) {
    std::u16string in;
    if (c < 0x10000) {
        in += static_cast<char16_t>(c);
    } else {
        in += static_cast<char16_t>(U16_LEAD(c));
        in += static_cast<char16_t>(U16_TRAIL(c));
    }
    // u_strToTitle with no break iterator titlecases the first letter of each word; a single
    // code point is one word, so this is the character's full titlecase mapping.
    std::u16string out(8, u'\0');
    UErrorCode err = U_ZERO_ERROR;
    const int32_t n =
        u_strToTitle(reinterpret_cast<UChar*>(out.data()), static_cast<int32_t>(out.size()),
                     reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()),
                     nullptr, "", &err);
    if (U_FAILURE(err)) unsupported("case mapping failed");
    out.resize(static_cast<std::size_t>(n));
    return from_u16(out);
}

bool is_cased(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASED); }
bool is_case_ignorable(char32_t c) {
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASE_IGNORABLE);
}

bool is_lower_cp(char32_t c) {
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_LOWERCASE);
}

bool is_upper_cp(char32_t c) {
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_UPPERCASE);
}

bool is_title_cp(char32_t c) { return u_charType(static_cast<UChar32>(c)) == U_TITLECASE_LETTER; }

std::vector<char32_t> code_points(std::string_view s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) out.push_back(decode_utf8(s, i));
    return out;
}

/// Python's lower-casing of cps[i] in context (final sigma), appended to @p out.
void lower_at(const std::vector<char32_t>& cps, std::size_t i, std::string& out) {
    const char32_t c = cps[i];
    if (c == 0x3A3) {  // GREEK CAPITAL LETTER SIGMA: Python's handle_capital_sigma
        std::size_t j = i;
        bool before = false;
        while (j > 0) {
            --j;
            if (!is_case_ignorable(cps[j])) {
                before = is_cased(cps[j]);
                break;
            }
        }
        bool after = false;
        for (std::size_t k = i + 1; k < cps.size(); ++k) {
            if (!is_case_ignorable(cps[k])) {
                after = is_cased(cps[k]);
                break;
            }
        }
        append_utf8(out, before && !after ? 0x3C2 : 0x3C3);
        return;
    }
    std::string one;
    append_utf8(one, c);
    out += c < 0x80 ? ascii_map(one, false) : icu_case(one, u_strToLower);
}

std::string upper_char(char32_t c) {
    std::string one;
    append_utf8(one, c);
    return c < 0x80 ? ascii_map(one, true) : icu_case(one, u_strToUpper);
}

template <class Pred>
bool all_cps(std::string_view s, Pred p) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size();)
        if (!p(decode_utf8(s, i))) return false;
    return true;
}

}  // namespace

std::string py_lower(std::string_view s) {
    if (is_ascii(s)) return ascii_map(s, false);
    const auto cps = code_points(s);
    std::string out;
    for (std::size_t i = 0; i < cps.size(); ++i) lower_at(cps, i, out);
    return out;
}

std::string py_upper(std::string_view s) {
    if (is_ascii(s)) return ascii_map(s, true);
    return icu_case(s, u_strToUpper);
}

std::string py_capitalize(std::string_view s) {
    const auto cps = code_points(s);
    std::string out;
    for (std::size_t i = 0; i < cps.size(); ++i) {
        if (i == 0) {
            out += cps[0] < 0x80 ? upper_char(cps[0]) : title_char(cps[0]);
        } else {
            lower_at(cps, i, out);
        }
    }
    return out;
}

std::string py_title(std::string_view s) {
    const auto cps = code_points(s);
    std::string out;
    bool previous_is_cased = false;
    for (std::size_t i = 0; i < cps.size(); ++i) {
        const char32_t c = cps[i];
        if (previous_is_cased) {
            lower_at(cps, i, out);
        } else {
            out += c < 0x80 ? upper_char(c) : title_char(c);
        }
        previous_is_cased = is_cased(c);
    }
    return out;
}

std::string py_swapcase(std::string_view s) {
    const auto cps = code_points(s);
    std::string out;
    for (std::size_t i = 0; i < cps.size(); ++i) {
        const char32_t c = cps[i];
        if (is_upper_cp(c)) {
            lower_at(cps, i, out);
        } else if (is_lower_cp(c)) {
            out += upper_char(c);
        } else {
            append_utf8(out, c);
        }
    }
    return out;
}

bool py_isprintable(char32_t c) {
    if (c < 0x80) return c >= 0x20 && c < 0x7F;
    switch (u_charType(static_cast<UChar32>(c))) {
        case U_CONTROL_CHAR:
        case U_FORMAT_CHAR:
        case U_SURROGATE:
        case U_PRIVATE_USE_CHAR:
        case U_UNASSIGNED:
        case U_LINE_SEPARATOR:
        case U_PARAGRAPH_SEPARATOR:
        case U_SPACE_SEPARATOR:
            return false;
        default:
            return true;
    }
}

bool py_isalpha(std::string_view s) {
    return all_cps(s, [](char32_t c) {
        const auto t = u_charType(static_cast<UChar32>(c));
        return t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER || t == U_TITLECASE_LETTER ||
               t == U_MODIFIER_LETTER || t == U_OTHER_LETTER;
    });
}

namespace {
int numeric_type(char32_t c) {
    return u_getIntPropertyValue(static_cast<UChar32>(c), UCHAR_NUMERIC_TYPE);
}
}  // namespace

bool py_isdecimal(std::string_view s) {
    return all_cps(s, [](char32_t c) { return numeric_type(c) == U_NT_DECIMAL; });
}

bool py_isdigit(std::string_view s) {
    return all_cps(s, [](char32_t c) {
        const int t = numeric_type(c);
        return t == U_NT_DECIMAL || t == U_NT_DIGIT;
    });
}

bool py_isnumeric(std::string_view s) {
    return all_cps(s, [](char32_t c) { return numeric_type(c) != U_NT_NONE; });
}

bool py_isalnum(std::string_view s) {
    return all_cps(s, [](char32_t c) {
        std::string one;
        append_utf8(one, c);
        return py_isalpha(one) || numeric_type(c) != U_NT_NONE;
    });
}

bool py_islower(std::string_view s) {
    bool cased = false;
    for (std::size_t i = 0; i < s.size();) {
        const char32_t c = decode_utf8(s, i);
        if (is_upper_cp(c) || is_title_cp(c)) return false;
        if (!cased && is_lower_cp(c)) cased = true;
    }
    return cased;
}

bool py_isupper(std::string_view s) {
    bool cased = false;
    for (std::size_t i = 0; i < s.size();) {
        const char32_t c = decode_utf8(s, i);
        if (is_lower_cp(c) || is_title_cp(c)) return false;
        if (!cased && is_upper_cp(c)) cased = true;
    }
    return cased;
}

bool py_istitle(std::string_view s) {
    bool cased = false, previous_is_cased = false;
    for (std::size_t i = 0; i < s.size();) {
        const char32_t c = decode_utf8(s, i);
        if (is_upper_cp(c) || is_title_cp(c)) {
            if (previous_is_cased) return false;
            previous_is_cased = true;
            cased = true;
        } else if (is_lower_cp(c)) {
            if (!previous_is_cased) return false;
            previous_is_cased = true;
            cased = true;
        } else {
            previous_is_cased = false;
        }
    }
    return cased;
}

// ---- str helpers of the renderer's str methods and filters ---------------------------------

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

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
