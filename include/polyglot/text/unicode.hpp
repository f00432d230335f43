// SPDX-License-Identifier: Apache-2.0
/// @file Unicode text utilities on UTF-8 `std::string_view`s: code points, ICU words and
/// graphemes, UTF-8 validation, NFC, newline folding. ICU stays in src/text/unicode.cpp.
///
/// Every function is thread-safe (ICU break iterators are cloned per thread; the NFC
/// Normalizer2 is ICU's shared unmodifiable singleton). Invalid UTF-8 never throws: ICU reads
/// each ill-formed sequence as U+FFFD (see each function for what that means for counts).
#pragma once

#include <cstddef>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

/// Number of Unicode code points: the bytes that are not UTF-8 continuation bytes
/// (10xxxxxx). Exact for valid UTF-8; for invalid input each stray continuation byte is not
/// counted and each lead byte counts once.
[[nodiscard]] std::size_t count_code_points(std::string_view utf8) noexcept;

/// Number of words by ICU's root-locale word BreakIterator (UAX #29 plus dictionaries for
/// CJK/Thai/...): the segments whose rule status is not in [UBRK_WORD_NONE,
/// UBRK_WORD_NONE_LIMIT), i.e. words, numbers, kana and ideographs — not spaces or
/// punctuation. Pure-ASCII text takes an exact hand-written UAX #29 path (ICU's result,
/// checked by a fuzz test). Throws text_error only if ICU itself fails to initialise.
[[nodiscard]] std::size_t count_words(std::string_view utf8);

/// Number of extended grapheme clusters (ICU character BreakIterator, UAX #29): an emoji
/// ZWJ sequence or a letter with combining marks is one; CR LF is one.
[[nodiscard]] std::size_t count_graphemes(std::string_view utf8);

/// True iff @p utf8 is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view utf8) noexcept;

/// Unicode NFC of @p utf8 (ICU Normalizer2). Already-normalised text (quick check, ASCII
/// fast path) is returned as a copy. Ill-formed UTF-8 sequences are passed through by ICU's
/// UTF-8 normaliser unchanged.
[[nodiscard]] std::string nfc(std::string_view utf8);

/// Appends code point @p c (≤ U+10FFFF; the caller has validated it) to @p out as UTF-8.
/// Header-only so that the tokenizers in plugins/common and the Jinja renderer share it.
inline void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

/// @p utf8 with every '\r' and '\n' replaced by ' ' (byte for byte, same length): fastText's
/// predict reads one line.
[[nodiscard]] std::string fold_newlines(std::string_view utf8);

}  // namespace text
POLYGLOT_END_NAMESPACE
