// SPDX-License-Identifier: Apache-2.0
/// @file UTF-8 helpers with Python's character classes (str.isspace, str.strip, ...).
/// Private to src/text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <polyglot/text/unicode.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

/// Decodes the code point at @p i (valid UTF-8 assumed: templates and JSON input are checked);
/// advances @p i.
inline char32_t decode_utf8(std::string_view s, std::size_t& i) noexcept {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
        ++i;
        return c;
    }
    int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    char32_t cp = c & (0x3F >> n);
    ++i;
    for (; n > 0 && i < s.size(); --n, ++i)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
    return cp;
}

using text::append_utf8;

/// Python's str.isspace() for one code point (also what `\s` matches in a str regex).
constexpr bool is_py_space(char32_t c) noexcept {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// Python's str.splitlines() line boundaries.
constexpr bool is_py_linebreak(char32_t c) noexcept {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
           c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
}

/// Number of code points in @p s.
inline std::size_t count_code_points(std::string_view s) noexcept {
    std::size_t n = 0;
    for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    return n;
}

/// Byte offset of code point @p k (k <= count) in @p s.
inline std::size_t byte_offset(std::string_view s, std::size_t k) noexcept {
    std::size_t i = 0;
    while (k > 0 && i < s.size()) {
        ++i;
        while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
        --k;
    }
    return i;
}

/// Length of the run of Python whitespace at the end of @p s, in bytes.
inline std::size_t trailing_space_bytes(std::string_view s) noexcept {
    std::size_t end = s.size();
    while (end > 0) {
        std::size_t start = end - 1;
        while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        std::size_t j = start;
        if (!is_py_space(decode_utf8(s, j))) break;
        end = start;
    }
    return s.size() - end;
}

/// Length of the run of Python whitespace at the start of @p s, in bytes.
inline std::size_t leading_space_bytes(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t j = i;
        if (!is_py_space(decode_utf8(s, j))) break;
        i = j;
    }
    return i;
}

// ---- ICU-backed Python str methods (pystr.cpp) --------------------------------------------

/// str.lower() / str.upper() (full case mappings, final sigma).
std::string py_lower(std::string_view s);
std::string py_upper(std::string_view s);
/// str.capitalize(), str.title(), str.swapcase().
std::string py_capitalize(std::string_view s);
std::string py_title(std::string_view s);
std::string py_swapcase(std::string_view s);
/// str.isprintable() for one code point (for repr()).
bool py_isprintable(char32_t c);
/// str.isalpha() / isdigit() / isdecimal() / isnumeric() / isalnum() / islower() / isupper() /
/// istitle() over a whole string.
bool py_isalpha(std::string_view s);
bool py_isdigit(std::string_view s);
bool py_isdecimal(std::string_view s);
bool py_isnumeric(std::string_view s);
bool py_isalnum(std::string_view s);
bool py_islower(std::string_view s);
bool py_isupper(std::string_view s);
bool py_istitle(std::string_view s);

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
