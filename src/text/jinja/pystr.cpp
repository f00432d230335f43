// SPDX-License-Identifier: Apache-2.0
// Python's Unicode-aware str methods (lower, upper, title, isalpha, isprintable, ...) over UTF-8,
// with ICU's character properties and full case mappings (Python and ICU both implement the
// Unicode Character Database's SpecialCasing rules, including final sigma).
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <string>
#include <string_view>
#include <vector>

#include "text/jinja/ast.hpp"
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

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
