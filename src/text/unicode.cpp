// SPDX-License-Identifier: Apache-2.0
// Unicode utilities: ICU (word/character BreakIterator, Normalizer2) and simdjson's UTF-8
// validator, kept out of the public headers.
#include <simdjson.h>
#include <unicode/brkiter.h>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/ubrk.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <polyglot/core/error.hpp>
#include <polyglot/text/unicode.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace text {
namespace {

constexpr std::uint64_t k_high_bits = 0x8080808080808080ULL;
constexpr std::uint64_t k_low_bytes = 0x0101010101010101ULL;

inline std::uint64_t load8(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}

/// True when every byte is < 0x80 (word-at-a-time; hand-written because it is a few lines and
/// runs on every text before choosing a fast path).
bool is_ascii(std::string_view s) noexcept {
    const char* p = s.data();
    std::size_t n = s.size();
    std::uint64_t acc = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) acc |= load8(p + i);
    for (; i < n; ++i) acc |= static_cast<unsigned char>(p[i]);
    return (acc & k_high_bits) == 0;
}

[[noreturn]] void throw_icu(const char* what, UErrorCode status) {
    throw text_error(std::string("ICU ") + what + " failed: " + u_errorName(status));
}

void check_length(std::string_view s) {
    // ICU break iterators index with int32_t.
    if (s.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
        throw text_error("text of " + std::to_string(s.size()) +
                         " bytes is too long for ICU segmentation (limit 2 GiB)");
    }
}

enum class brk_kind { word, character };

/// Immutable prototypes, created once; each thread segments with its own clone, because a
/// BreakIterator has mutable iteration state (ICU's sharedbreakiterator.h).
const icu::BreakIterator& prototype(brk_kind kind) {
    static const std::unique_ptr<icu::BreakIterator> word = [] {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<icu::BreakIterator> bi(
            icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
        if (U_FAILURE(status) || !bi) throw_icu("createWordInstance", status);
        return bi;
    }();
    static const std::unique_ptr<icu::BreakIterator> character = [] {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<icu::BreakIterator> bi(
            icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
        if (U_FAILURE(status) || !bi) throw_icu("createCharacterInstance", status);
        return bi;
    }();
    return kind == brk_kind::word ? *word : *character;
}

icu::BreakIterator& thread_iterator(brk_kind kind) {
    thread_local std::unique_ptr<icu::BreakIterator> word;
    thread_local std::unique_ptr<icu::BreakIterator> character;
    auto& slot = kind == brk_kind::word ? word : character;
    if (!slot) {
        slot.reset(prototype(kind).clone());
        if (!slot) throw text_error("ICU BreakIterator::clone failed (out of memory)");
    }
    return *slot;
}

/// Runs @p fn(BreakIterator&) with the thread's iterator set on @p s.
template <class Fn>
std::size_t with_iterator(brk_kind kind, std::string_view s, Fn&& fn) {
    check_length(s);
    // Converted to UTF-16 first (into a per-thread buffer): measured 1.3-1.5x faster than
    // iterating a UTF-8 UText. Ill-formed UTF-8 becomes U+FFFD either way (same counts).
    thread_local icu::UnicodeString utf16;
    const auto capacity = static_cast<std::int32_t>(s.size()) + 1;  // UTF-16 units <= bytes
    UChar* buf = utf16.getBuffer(capacity);
    if (buf == nullptr) throw text_error("out of memory converting text to UTF-16");
    std::int32_t length = 0;
    UErrorCode status = U_ZERO_ERROR;
    u_strFromUTF8WithSub(buf, capacity, &length, s.data(), static_cast<std::int32_t>(s.size()),
                         0xFFFD, nullptr, &status);
    utf16.releaseBuffer(U_SUCCESS(status) ? length : 0);
    if (U_FAILURE(status)) throw_icu("u_strFromUTF8WithSub", status);
    icu::BreakIterator& bi = thread_iterator(kind);
    bi.setText(utf16);
    const std::size_t result = fn(bi);
    // Do not keep a huge text's buffer alive per thread (the iterator is re-set before reuse).
    if (utf16.getCapacity() > (1 << 20)) utf16 = icu::UnicodeString();
    return result;
}

// ---- ASCII word segmentation --------------------------------------------------------------
// Exact restatement of ICU 72's root word rules (UAX #29 WB5-WB13b, with ICU's tailoring that
// makes '@' an ALetter and drops ':' from MidLetter) for 7-bit text, so the common English /
// code / number text avoids ICU's conversion and rule-table walk. tests/unit/unicode_test.cpp
// fuzzes it against ICU. Classes: AL = [A-Za-z@], NU = [0-9], EX = '_' (ExtendNumLet); every pair
// of these joins. Mid characters join AL·AL ('.', '\'') or NU·NU ('.', '\'', ',', ';'). Every other
// byte is its own non-word segment (or part of a space run). A segment made of a single '_' has
// rule status UBRK_WORD_NONE in ICU; every other joined segment is a word.
enum : unsigned char {
    c_other = 0,
    c_al = 1,
    c_nu = 2,
    c_ex = 3,
    c_mid_letter_num = 4,
    c_mid_num = 5
};

constexpr auto make_ascii_classes() {
    struct table {
        unsigned char v[128];
    } t{};
    for (int c = 'a'; c <= 'z'; ++c) t.v[c] = c_al;
    for (int c = 'A'; c <= 'Z'; ++c) t.v[c] = c_al;
    for (int c = '0'; c <= '9'; ++c) t.v[c] = c_nu;
    t.v[static_cast<int>('@')] = c_al;
    t.v[static_cast<int>('_')] = c_ex;
    t.v[static_cast<int>('.')] = c_mid_letter_num;
    t.v[static_cast<int>('\'')] = c_mid_letter_num;
    t.v[static_cast<int>(',')] = c_mid_num;
    t.v[static_cast<int>(';')] = c_mid_num;
    return t;
}
constexpr auto k_ascii_class = make_ascii_classes();

inline unsigned char ascii_class(char c) noexcept {
    return k_ascii_class.v[static_cast<unsigned char>(c)];
}

inline bool is_word_class(unsigned char k) noexcept { return k >= c_al && k <= c_ex; }

std::size_t count_words_ascii(std::string_view s) noexcept {
    const std::size_t n = s.size();
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < n) {
        if (!is_word_class(ascii_class(s[i]))) {
            ++i;
            continue;
        }
        const std::size_t start = i;
        for (;;) {
            while (i < n && is_word_class(ascii_class(s[i]))) ++i;
            if (i + 1 >= n) break;
            const unsigned char mid = ascii_class(s[i]);
            if (mid != c_mid_letter_num && mid != c_mid_num) break;
            const unsigned char before = ascii_class(s[i - 1]);
            const unsigned char after = ascii_class(s[i + 1]);
            const bool letters = before == c_al && after == c_al && mid == c_mid_letter_num;
            const bool numbers = before == c_nu && after == c_nu;
            if (!letters && !numbers) break;
            ++i;  // the mid character; the loop continues with the following word character
        }
        if (!(i - start == 1 && s[start] == '_')) ++count;
    }
    return count;
}

}  // namespace

std::size_t count_code_points(std::string_view utf8) noexcept {
    // Word-at-a-time count of continuation bytes (10xxxxxx): bit 7 set and bit 6 clear.
    const char* p = utf8.data();
    const std::size_t n = utf8.size();
    std::size_t continuation = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const std::uint64_t w = load8(p + i);
        const std::uint64_t cont = w & ~(w << 1) & k_high_bits;  // one bit per byte, at bit 7
        continuation += static_cast<std::size_t>(((cont >> 7) * k_low_bytes) >> 56);
    }
    for (; i < n; ++i) continuation += (static_cast<unsigned char>(p[i]) & 0xC0) == 0x80;
    return n - continuation;
}

std::size_t count_words(std::string_view utf8) {
    if (utf8.empty()) return 0;
    if (is_ascii(utf8)) return count_words_ascii(utf8);
    return with_iterator(brk_kind::word, utf8, [](icu::BreakIterator& bi) {
        std::size_t words = 0;
        bi.first();
        for (std::int32_t p = bi.next(); p != icu::BreakIterator::DONE; p = bi.next()) {
            if (bi.getRuleStatus() >= UBRK_WORD_NONE_LIMIT) ++words;
        }
        return words;
    });
}

std::size_t count_graphemes(std::string_view utf8) {
    if (utf8.empty()) return 0;
    if (is_ascii(utf8)) {
        // Every ASCII byte is a grapheme cluster except that CR LF is one (GB3).
        std::size_t crlf = 0;
        for (std::size_t i = 0; i + 1 < utf8.size(); ++i) {
            crlf += utf8[i] == '\r' && utf8[i + 1] == '\n';
        }
        return utf8.size() - crlf;
    }
    return with_iterator(brk_kind::character, utf8, [](icu::BreakIterator& bi) {
        std::size_t clusters = 0;
        bi.first();
        while (bi.next() != icu::BreakIterator::DONE) ++clusters;
        return clusters;
    });
}

bool is_valid_utf8(std::string_view utf8) noexcept {
    return simdjson::validate_utf8(utf8.data(), utf8.size());
}

std::string nfc(std::string_view utf8) {
    if (is_ascii(utf8)) return std::string(utf8);
    UErrorCode status = U_ZERO_ERROR;
    // An unmodifiable singleton owned by ICU: shared read-only by every thread.
    const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status)) throw_icu("Normalizer2::getNFCInstance", status);
    if (utf8.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
        throw text_error("text of " + std::to_string(utf8.size()) +
                         " bytes is too long for ICU normalisation (limit 2 GiB)");
    }
    const icu::StringPiece piece(utf8.data(), static_cast<std::int32_t>(utf8.size()));
    if (normalizer->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) {
        return std::string(utf8);
    }
    status = U_ZERO_ERROR;
    std::string out;
    out.reserve(utf8.size());
    icu::StringByteSink<std::string> sink(&out);
    normalizer->normalizeUTF8(0, piece, sink, nullptr, status);
    if (U_FAILURE(status)) throw_icu("Normalizer2::normalizeUTF8", status);
    return out;
}

std::string fold_newlines(std::string_view utf8) {
    std::string out(utf8);
    for (char& c : out) {
        if (c == '\r' || c == '\n') c = ' ';
    }
    return out;
}

}  // namespace text
POLYGLOT_END_NAMESPACE
