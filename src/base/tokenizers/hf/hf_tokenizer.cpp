// SPDX-License-Identifier: Apache-2.0
// The `tokenizers` pipeline, hand-written because no Debian package provides it. Each component
// reproduces the Rust library (0.23) closely enough that ids equal its ids on real vocabularies;
// the comments name the places where its behaviour is surprising and we follow it anyway.
//
// Speed: added tokens are found with one trie walk per candidate byte; the pre-tokenizer
// regexes run on our own matcher (tokenizer/regex.hpp) over Unicode 16 tables; byte-level BPE
// works on raw bytes (the vocabulary is re-keyed at load, so the byte → printable-character
// mapping is never materialised); BPE and Unigram results are kept in a per-thread word cache.
#include "base/tokenizers/hf/hf_tokenizer.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <unicode/utext.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <polyglot/core/error.hpp>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/decoders.hpp"
#include "base/tokenizers/hf/regex.hpp"
#include "base/tokenizers/hf/tables.hpp"
#include "base/unicode/unicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

namespace {

using simdjson::dom::element;
namespace uc = unicode;
using detail::byte_trie;
using detail::string_table;
using detail::u64_table;

[[noreturn]] void unsupported(const std::filesystem::path& file, const std::string& what) {
    throw unsupported_error(file.string() + ": " + what);
}

/// Largest id accepted from a file (ids are dense: a vocabulary of n tokens uses 0..n-1).
constexpr std::uint64_t max_token_id = (std::uint64_t{1} << 31) - 1;

/// GPT-2's bytes_to_unicode: byte → code point of its printable stand-in.
const std::array<char32_t, 256>& byte_to_char() {
    static const std::array<char32_t, 256> t = [] {
        std::array<char32_t, 256> r{};
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            r[std::size_t(b)] = char32_t(printable ? b : 256 + extra++);
        }
        return r;
    }();
    return t;
}

/// Decodes valid UTF-8 at s[i]; sets len.
inline char32_t cp_at(std::string_view s, std::size_t i, std::size_t& len) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    if (p[i] < 0x80) {
        len = 1;
        return p[i];
    }
    const char32_t c = uc::decode_utf8(p + i, s.size() - i, len);
    return c == uc::invalid_cp ? 0xFFFD : c;
}
/// Start of the code point that ends at s[e) (e > 0).
inline std::size_t prev_cp(std::string_view s, std::size_t e) {
    std::size_t b = e - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    return b;
}

// ---- per-thread scratch ------------------------------------------------------------------------

struct piece {
    std::size_t off, len;
    bool at_start;  ///< starts at offset 0 of the original input (Metaspace "first")
};

struct segment {
    std::size_t b, e;
    std::int64_t id;  ///< added token id, or -1 for text
};

/// Per-thread direct-mapped cache of model results (real text repeats its words; a word that
/// is not itself a token costs a dozen merge lookups). Two tiers: short words, and whole
/// pre-tokenized pieces up to 256 bytes (as `tokenizers` caches words under 256 bytes).
template <std::size_t MaxBytes, std::size_t MaxIds, std::size_t Slots>
struct cache_tier {
    static constexpr std::size_t max_bytes = MaxBytes, max_ids = MaxIds, slots = Slots;
    struct entry {
        std::uint64_t hash = 0;
        std::uint64_t serial = 0;  ///< 0 = empty
        std::uint16_t len = 0, n = 0;
        unsigned char bytes[MaxBytes];
        token_id ids[MaxIds];
    };
    std::unique_ptr<entry[]> e{new entry[Slots]};
};
struct word_cache {
    cache_tier<32, 12, 16384> small;
    cache_tier<256, 96, 2048> large;
};
struct bpe_sym {
    token_id id;
    bool alive;
    std::int64_t prev, next;  ///< 64-bit: a piece may exceed 2^31 bytes
};
struct merge_entry {
    std::uint32_t rank;
    token_id new_id;
    std::uint64_t pos;
    bool operator>(const merge_entry& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
};

struct scratch {
    std::string sanitized, norm, norm_tmp, arena;
    std::vector<segment> segs1, segs2;
    std::vector<piece> pieces, pieces_tmp;
    std::vector<std::pair<std::size_t, std::size_t>> matches;
    std::vector<std::pair<std::pair<std::size_t, std::size_t>, bool>> splits, splits2;
    word_cache cache;
    std::vector<bpe_sym> syms;
    std::vector<merge_entry> heap;
    std::string tmp;
};
scratch& tls_scratch() {
    thread_local scratch s;
    return s;
}

std::atomic<std::uint64_t> next_serial{1};

// ---- split behaviours (NormalizedString::split) ------------------------------------------------

enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

using match_list = std::vector<std::pair<std::pair<std::size_t, std::size_t>, bool>>;

/// (range, is_match) over the whole of [0, n) from sorted match ranges (Pattern::find_matches).
void matches_to_splits(const std::vector<std::pair<std::size_t, std::size_t>>& m, std::size_t n,
                       bool invert, match_list& out) {
    out.clear();
    if (n == 0) {
        out.push_back({{0, 0}, invert});
        return;
    }
    std::size_t prev = 0;
    for (auto [b, e] : m) {
        if (prev != b) out.push_back({{prev, b}, invert});
        out.push_back({{b, e}, !invert});
        prev = e;
    }
    if (prev != n) out.push_back({{prev, n}, invert});
}

/// Applies a split behaviour: (range, remove) pairs.
void apply_behavior(const match_list& in, split_behavior b, match_list& out) {
    out.clear();
    switch (b) {
        case split_behavior::isolated:
            for (auto& [r, m] : in) out.push_back({r, false});
            break;
        case split_behavior::removed:
            out = in;
            break;
        case split_behavior::contiguous: {
            bool prev = false;
            for (auto& [r, m] : in) {
                if (m == prev && !out.empty())
                    out.back().first.second = r.second;
                else
                    out.push_back({r, false});
                prev = m;
            }
            break;
        }
        case split_behavior::merged_with_previous: {
            bool prev = false;
            for (auto& [r, m] : in) {
                if (m && !prev && !out.empty())
                    out.back().first.second = r.second;
                else
                    out.push_back({r, false});
                prev = m;
            }
            break;
        }
        case split_behavior::merged_with_next: {
            bool prev = false;
            for (auto it = in.rbegin(); it != in.rend(); ++it) {
                auto& [r, m] = *it;
                if (m && !prev && !out.empty())
                    out.back().first.first = r.first;
                else
                    out.push_back({r, false});
                prev = m;
            }
            std::reverse(out.begin(), out.end());
            break;
        }
    }
}

split_behavior parse_behavior(std::string_view s, const std::filesystem::path& file) {
    if (s == "Isolated") return split_behavior::isolated;
    if (s == "Removed") return split_behavior::removed;
    if (s == "MergedWithPrevious") return split_behavior::merged_with_previous;
    if (s == "MergedWithNext") return split_behavior::merged_with_next;
    if (s == "Contiguous") return split_behavior::contiguous;
    unsupported(file, "Split behavior '" + std::string(s) + "' is not supported");
}

/// Matches of a char predicate: every matching character is its own match (Pattern for Fn).
template <class Pred>
void char_matches(std::string_view s, Pred&& pred,
                  std::vector<std::pair<std::size_t, std::size_t>>& out) {
    out.clear();
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len;
        const char32_t c = cp_at(s, i, len);
        if (pred(c)) out.emplace_back(i, i + len);
        i += len;
    }
}

// ---- regular expressions ------------------------------------------------------------------------

/// ICU fallback for patterns outside tok_regex's subset (ICU's tables are Unicode 15.0: close,
/// not exact). \s / \S become \p{White_Space} / \P{White_Space} (Oniguruma's meaning; ICU's \s
/// lacks U+000B and U+0085).
struct icu_regex {
    std::unique_ptr<icu::RegexPattern> pattern;

    icu_regex(std::string_view re, const std::filesystem::path& file) {
        std::string tr;
        for (std::size_t i = 0; i < re.size(); ++i) {
            if (re[i] == '\\' && i + 1 < re.size()) {
                const char n = re[i + 1];
                if (n == 's')
                    tr += "\\p{White_Space}";
                else if (n == 'S')
                    tr += "\\P{White_Space}";
                else {
                    tr += re[i];
                    tr += n;
                }
                ++i;
            } else {
                tr += re[i];
            }
        }
        UErrorCode status = U_ZERO_ERROR;
        UParseError pe{};
        pattern.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(tr), 0, pe, status));
        if (U_FAILURE(status))
            throw format_error(file.string() + ": cannot compile the regex '" + std::string(re) +
                               "' (" + u_errorName(status) + ")");
    }

    void find_all(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const {
        out.clear();
        if (s.empty()) return;
        UErrorCode status = U_ZERO_ERROR;
        UText* ut = utext_openUTF8(nullptr, s.data(), static_cast<int64_t>(s.size()), &status);
        std::unique_ptr<icu::RegexMatcher> m(pattern->matcher(status));
        if (U_FAILURE(status)) {
            utext_close(ut);
            throw text_error(std::string("regex matcher: ") + u_errorName(status));
        }
        m->reset(ut);
        while (m->find(status) && U_SUCCESS(status)) {
            auto b = static_cast<std::size_t>(m->start64(status));
            auto e = static_cast<std::size_t>(m->end64(status));
            out.emplace_back(b, e);
        }
        m.reset();
        utext_close(ut);
    }
};

/// A `tokenizer.json` pattern: {"String": literal} or {"Regex": re}.
struct pattern {
    std::string literal;
    std::unique_ptr<tok_regex> re;
    std::unique_ptr<icu_regex> icu;

    static pattern parse(element e, const std::filesystem::path& file, const char* what) {
        pattern p;
        if (auto s = get_string(e, "String")) {
            p.literal = *s;
        } else if (auto r = get_string(e, "Regex")) {
            std::string why;
            p.re = tok_regex::compile(*r, why);
            if (!p.re) p.icu = std::make_unique<icu_regex>(*r, file);
        } else {
            throw format_error(file.string() + ": " + what + " with an unknown pattern");
        }
        return p;
    }
    void find_all(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const {
        if (re) return re->find_all(s, out);
        if (icu) return icu->find_all(s, out);
        out.clear();
        if (literal.empty()) return;
        for (std::size_t pos = 0; (pos = s.find(literal, pos)) != std::string_view::npos;
             pos += literal.size())
            out.emplace_back(pos, pos + literal.size());
    }
};

// ---- normalizers --------------------------------------------------------------------------------

struct normalizer {
    virtual ~normalizer() = default;
    /// Normalizes @p s in place (@p tmp is scratch).
    virtual void apply(std::string& s, std::string& tmp) const = 0;
};

bool all_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

struct unicode_normalizer : normalizer {
    const icu::Normalizer2* n = nullptr;
    void apply(std::string& s, std::string& tmp) const override {
        if (all_ascii(s)) return;
        UErrorCode status = U_ZERO_ERROR;
        if (n->isNormalizedUTF8(s, status) && U_SUCCESS(status)) return;
        status = U_ZERO_ERROR;
        tmp.clear();
        icu::StringByteSink<std::string> sink(&tmp);
        n->normalizeUTF8(0, s, sink, nullptr, status);
        if (U_FAILURE(status))
            throw text_error(std::string("ICU normalizer: ") + u_errorName(status));
        s.swap(tmp);
    }
};

/// char::to_lowercase per character (no final-sigma context, unlike ICU's toLower).
void lowercase_into(std::string_view s, std::string& out) {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len;
        const char32_t c = cp_at(s, i, len);
        if (c < 0x80) {
            out += char(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (c == 0x130) {
            out += "i\xCC\x87";  // İ → i + U+0307 (SpecialCasing, unconditional)
        } else {
            uc::append_utf8(out, uc::simple_lower(c));
        }
        i += len;
    }
}

struct lowercase_normalizer : normalizer {
    void apply(std::string& s, std::string& tmp) const override {
        tmp.clear();
        lowercase_into(s, tmp);
        s.swap(tmp);
    }
};

struct replace_normalizer : normalizer {
    pattern pat;
    std::string content;
    void apply(std::string& s, std::string& tmp) const override {
        thread_local std::vector<std::pair<std::size_t, std::size_t>> m;
        pat.find_all(s, m);
        if (m.empty()) return;
        tmp.clear();
        std::size_t prev = 0;
        for (auto [b, e] : m) {
            tmp.append(s, prev, b - prev);
            tmp += content;
            prev = e;
        }
        tmp.append(s, prev, std::string::npos);
        s.swap(tmp);
    }
};

struct prepend_normalizer : normalizer {
    std::string prefix;
    void apply(std::string& s, std::string&) const override {
        if (!s.empty()) s.insert(0, prefix);
    }
};

struct strip_normalizer : normalizer {
    bool left = true, right = true;
    void apply(std::string& s, std::string&) const override {
        std::size_t b = 0, e = s.size();
        if (left)
            while (b < e) {
                std::size_t len;
                if (!uc::is_white_space(cp_at(s, b, len))) break;
                b += len;
            }
        if (right)
            while (e > b) {
                const std::size_t p = prev_cp(s, e);
                std::size_t len;
                if (!uc::is_white_space(cp_at(s, p, len))) break;
                e = p;
            }
        s = s.substr(b, e - b);
    }
};

bool is_mark(char32_t c) {
    const auto g = uc::category(c);
    return g == uc::Mn || g == uc::Mc || g == uc::Me;
}

struct strip_accents_normalizer : normalizer {
    void apply(std::string& s, std::string& tmp) const override {
        tmp.clear();
        for (std::size_t i = 0; i < s.size();) {
            std::size_t len;
            const char32_t c = cp_at(s, i, len);
            if (!is_mark(c)) tmp.append(s, i, len);
            i += len;
        }
        s.swap(tmp);
    }
};

struct nmt_normalizer : normalizer {
    void apply(std::string& s, std::string& tmp) const override {
        tmp.clear();
        for (std::size_t i = 0; i < s.size();) {
            std::size_t len;
            const char32_t c = cp_at(s, i, len);
            i += len;
            if ((c >= 1 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                c == 0x8F || c == 0x9F)
                continue;
            if (c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 ||
                (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x2581 ||
                c == 0xFEFF || c == 0xFFFD)
                tmp += ' ';
            else
                uc::append_utf8(tmp, c);
        }
        s.swap(tmp);
    }
};

struct byte_level_normalizer : normalizer {
    void apply(std::string& s, std::string& tmp) const override {
        tmp.clear();
        for (unsigned char b : s) uc::append_utf8(tmp, byte_to_char()[b]);
        s.swap(tmp);
    }
};

bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

struct bert_normalizer : normalizer {
    bool clean_text = true, chinese = true, strip_accents = true, lowercase = true;
    const icu::Normalizer2* nfd = nullptr;
    void apply(std::string& s, std::string& tmp) const override {
        if (clean_text || chinese) {
            tmp.clear();
            for (std::size_t i = 0; i < s.size();) {
                std::size_t len;
                const char32_t c = cp_at(s, i, len);
                i += len;
                if (clean_text) {
                    // Control characters (is_other: Cc, Cf, Co; not \t \n \r) go first, so
                    // U+0085 is removed although it is white space; then white space → ' '.
                    if (c == 0 || c == 0xFFFD) continue;
                    const bool tnr = c == '\t' || c == '\n' || c == '\r';
                    const auto g = uc::category(c);
                    if (!tnr && (g == uc::Cc || g == uc::Cf || g == uc::Co)) continue;
                    if (tnr || uc::is_white_space(c)) {
                        tmp += ' ';
                        continue;
                    }
                }
                if (chinese && is_chinese_char(c)) {
                    tmp += ' ';
                    uc::append_utf8(tmp, c);
                    tmp += ' ';
                } else {
                    uc::append_utf8(tmp, c);
                }
            }
            s.swap(tmp);
        }
        if (strip_accents && !all_ascii(s)) {
            UErrorCode status = U_ZERO_ERROR;
            tmp.clear();
            icu::StringByteSink<std::string> sink(&tmp);
            nfd->normalizeUTF8(0, s, sink, nullptr, status);
            if (U_FAILURE(status)) throw text_error("ICU NFD failed");
            s.clear();
            for (std::size_t i = 0; i < tmp.size();) {
                std::size_t len;
                const char32_t c = cp_at(tmp, i, len);
                if (uc::category(c) != uc::Mn) s.append(tmp, i, len);
                i += len;
            }
        }
        if (lowercase) {
            tmp.clear();
            lowercase_into(s, tmp);
            s.swap(tmp);
        }
    }
};

/// SentencePiece's precompiled charsmap (`spm_precompiled`): a darts-clone double array over
/// UTF-8 keys and a blob of NUL-terminated replacements.
struct precompiled_normalizer : normalizer {
    std::vector<std::uint32_t> units;
    std::string normalized;

    /// The replacement of the shortest key that is a prefix of @p chunk (as spm_precompiled's
    /// transform: results[0] of a common-prefix search), or nullopt.
    std::optional<std::string_view> transform(std::string_view chunk) const {
        if (units.empty()) return std::nullopt;
        auto offset = [](std::uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); };
        std::size_t node = 0;
        std::uint32_t unit = units[0];
        node ^= offset(unit);
        for (unsigned char c : chunk) {
            if (c == 0) break;
            node ^= c;
            if (node >= units.size()) return std::nullopt;
            unit = units[node];
            if ((unit & ((1u << 31) | 0xFFu)) != c) return std::nullopt;
            node ^= offset(unit);
            if (node >= units.size()) return std::nullopt;
            if ((unit >> 8) & 1u) {
                const std::size_t index = units[node] & ((1u << 31) - 1);
                if (index >= normalized.size()) return std::nullopt;
                const std::size_t end = normalized.find('\0', index);
                return std::string_view(normalized)
                    .substr(index, (end == std::string::npos ? normalized.size() : end) - index);
            }
        }
        return std::nullopt;
    }

    /// End of the extended grapheme cluster that starts at cps[i] (UAX #29 without GB9c,
    /// which only joins clusters of 9 bytes or more: irrelevant to the < 6-byte rule below).
    static std::size_t grapheme_end(const std::vector<char32_t>& cps,
                                    const std::vector<std::uint16_t>& pr, std::size_t i) {
        const std::size_t n = cps.size();
        std::size_t j = i + 1;
        auto g = [&](std::size_t k) { return uc::grapheme_break(pr[k]); };
        std::size_t ri = g(i) == uc::gcb_ri ? 1 : 0;
        bool pict_zwj = false;  // ExtPict Extend* ZWJ seen
        bool pict = (pr[i] & uc::p_ext_pict) != 0;
        for (; j < n; ++j) {
            const auto a = g(j - 1), b = g(j);
            if (a == uc::gcb_cr && b == uc::gcb_lf) continue;                       // GB3
            if (a == uc::gcb_control || a == uc::gcb_cr || a == uc::gcb_lf) break;  // GB4
            if (b == uc::gcb_control || b == uc::gcb_cr || b == uc::gcb_lf) break;  // GB5
            if (a == uc::gcb_l &&
                (b == uc::gcb_l || b == uc::gcb_v || b == uc::gcb_lv || b == uc::gcb_lvt))
                continue;  // GB6
            if ((a == uc::gcb_lv || a == uc::gcb_v) && (b == uc::gcb_v || b == uc::gcb_t))
                continue;                                                          // GB7
            if ((a == uc::gcb_lvt || a == uc::gcb_t) && b == uc::gcb_t) continue;  // GB8
            if (b == uc::gcb_extend || b == uc::gcb_zwj) {                         // GB9
                if (b == uc::gcb_zwj && pict) pict_zwj = true;
                continue;
            }
            if (b == uc::gcb_spacing_mark) continue;                         // GB9a
            if (a == uc::gcb_prepend) continue;                              // GB9b
            if (a == uc::gcb_zwj && pict_zwj && (pr[j] & uc::p_ext_pict)) {  // GB11
                pict_zwj = false;
                continue;
            }
            if (a == uc::gcb_ri && b == uc::gcb_ri && ri % 2 == 1) {  // GB12/13
                ++ri;
                continue;
            }
            break;
        }
        return j;
    }

    void apply(std::string& s, std::string& tmp) const override {
        thread_local std::vector<char32_t> cps;
        thread_local std::vector<std::uint16_t> pr;
        thread_local std::vector<std::size_t> offs;
        cps.clear();
        pr.clear();
        offs.clear();
        for (std::size_t i = 0; i < s.size();) {
            std::size_t len;
            const char32_t c = cp_at(s, i, len);
            cps.push_back(c);
            pr.push_back(uc::props(c));
            offs.push_back(i);
            i += len;
        }
        offs.push_back(s.size());
        tmp.clear();
        bool modified = false;
        for (std::size_t i = 0; i < cps.size();) {
            const std::size_t j = grapheme_end(cps, pr, i);
            const std::string_view g = std::string_view(s).substr(offs[i], offs[j] - offs[i]);
            if (g.size() < 6) {
                if (auto r = transform(g)) {
                    modified = true;
                    tmp += *r;
                    i = j;
                    continue;
                }
            }
            for (std::size_t k = i; k < j; ++k) {
                const std::string_view part =
                    std::string_view(s).substr(offs[k], offs[k + 1] - offs[k]);
                if (auto r = transform(part)) {
                    modified = true;
                    tmp += *r;
                } else {
                    tmp += part;
                }
            }
            i = j;
        }
        if (modified) s.swap(tmp);
    }
};

struct sequence_normalizer : normalizer {
    std::vector<std::unique_ptr<normalizer>> items;
    void apply(std::string& s, std::string& tmp) const override {
        for (const auto& n : items) n->apply(s, tmp);
    }
};

std::string base64_decode(std::string_view in, const std::filesystem::path& file) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        const int v = val(c);
        if (v < 0) throw format_error(file.string() + ": precompiled_charsmap is not base64");
        acc = (acc << 6) | std::uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += char((acc >> bits) & 0xFF);
        }
    }
    return out;
}

const icu::Normalizer2* icu_form(const std::string& type) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = type == "NFC"    ? icu::Normalizer2::getNFCInstance(status)
                                : type == "NFD"  ? icu::Normalizer2::getNFDInstance(status)
                                : type == "NFKC" ? icu::Normalizer2::getNFKCInstance(status)
                                                 : icu::Normalizer2::getNFKDInstance(status);
    if (U_FAILURE(status)) throw text_error("ICU normalizer: " + std::string(u_errorName(status)));
    return n;
}

std::unique_ptr<normalizer> make_normalizer(element e, const std::filesystem::path& file) {
    const std::string type = get_string(e, "type").value_or("");
    if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
        auto n = std::make_unique<unicode_normalizer>();
        n->n = icu_form(type);
        return n;
    }
    if (type == "Lowercase") return std::make_unique<lowercase_normalizer>();
    if (type == "Replace") {
        auto n = std::make_unique<replace_normalizer>();
        n->content = get_string(e, "content").value_or("");
        auto pat = field(e, "pattern");
        if (!pat) throw format_error(file.string() + ": Replace normalizer without a pattern");
        n->pat = pattern::parse(*pat, file, "Replace normalizer");
        return n;
    }
    if (type == "Prepend") {
        auto n = std::make_unique<prepend_normalizer>();
        n->prefix = get_string(e, "prepend").value_or("");
        return n;
    }
    if (type == "Strip") {
        auto n = std::make_unique<strip_normalizer>();
        n->left = get_bool(e, "strip_left").value_or(true);
        n->right = get_bool(e, "strip_right").value_or(true);
        return n;
    }
    if (type == "StripAccents") return std::make_unique<strip_accents_normalizer>();
    if (type == "Nmt") return std::make_unique<nmt_normalizer>();
    if (type == "ByteLevel") return std::make_unique<byte_level_normalizer>();
    if (type == "BertNormalizer") {
        auto n = std::make_unique<bert_normalizer>();
        n->clean_text = get_bool(e, "clean_text").value_or(true);
        n->chinese = get_bool(e, "handle_chinese_chars").value_or(true);
        n->lowercase = get_bool(e, "lowercase").value_or(true);
        n->strip_accents = get_bool(e, "strip_accents").value_or(n->lowercase);
        n->nfd = icu_form("NFD");
        return n;
    }
    if (type == "Precompiled") {
        auto n = std::make_unique<precompiled_normalizer>();
        const std::string data =
            base64_decode(get_string(e, "precompiled_charsmap").value_or(""), file);
        if (!data.empty()) {
            if (data.size() < 4)
                throw format_error(file.string() + ": precompiled_charsmap too short");
            std::uint32_t trie_size = 0;
            std::memcpy(&trie_size, data.data(), 4);
            if (trie_size % 4 != 0 || std::size_t(trie_size) > data.size() - 4)
                throw format_error(file.string() + ": precompiled_charsmap trie size is wrong");
            n->units.resize(trie_size / 4);
            std::memcpy(n->units.data(), data.data() + 4, trie_size);
            n->normalized = data.substr(4 + trie_size);
        }
        return n;
    }
    if (type == "Sequence") {
        auto n = std::make_unique<sequence_normalizer>();
        simdjson::dom::array arr;
        auto items = field(e, "normalizers");
        if (!items || items->get_array().get(arr))
            throw format_error(file.string() + ": Sequence normalizer without \"normalizers\"");
        for (auto x : arr) n->items.push_back(make_normalizer(x, file));
        return n;
    }
    unsupported(file, "normalizer type '" + type +
                          "' is not supported (NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, "
                          "Strip, StripAccents, Nmt, ByteLevel, BertNormalizer, Precompiled, "
                          "Sequence)");
}

// ---- pre-tokenizers -----------------------------------------------------------------------------

struct pre_tokenizer {
    virtual ~pre_tokenizer() = default;
    /// Splits @p pieces (views of sc.arena) further, in place; may append text to the arena.
    virtual void apply(scratch& sc, std::vector<piece>& pieces) const = 0;
};

/// Emits the pieces of @p p for the kept splits of @p sp (empty ones dropped, as
/// PreTokenizedString::split does).
void emit_splits(const piece& p, const match_list& sp, std::vector<piece>& out) {
    bool first = true;
    for (auto& [r, remove] : sp) {
        if (remove || r.second == r.first) continue;
        out.push_back({p.off + r.first, r.second - r.first, p.at_start && r.first == 0 && first});
        first = false;
    }
}

struct split_pre_tokenizer : pre_tokenizer {
    pattern pat;
    split_behavior behavior = split_behavior::isolated;
    bool invert = false;
    void apply(scratch& sc, std::vector<piece>& pieces) const override {
        sc.pieces_tmp.clear();
        for (const piece& p : pieces) {
            const std::string_view s(sc.arena.data() + p.off, p.len);
            pat.find_all(s, sc.matches);
            matches_to_splits(sc.matches, s.size(), invert, sc.splits);
            apply_behavior(sc.splits, behavior, sc.splits2);
            emit_splits(p, sc.splits2, sc.pieces_tmp);
        }
        pieces.swap(sc.pieces_tmp);
    }
};

/// Pre-tokenizers that split on a character predicate with a behaviour.
template <class Pred>
struct char_split_pre_tokenizer : pre_tokenizer {
    Pred pred;
    split_behavior behavior;
    char_split_pre_tokenizer(Pred p, split_behavior b) : pred(p), behavior(b) {}
    void apply(scratch& sc, std::vector<piece>& pieces) const override {
        sc.pieces_tmp.clear();
        for (const piece& p : pieces) {
            const std::string_view s(sc.arena.data() + p.off, p.len);
            char_matches(s, pred, sc.matches);
            matches_to_splits(sc.matches, s.size(), false, sc.splits);
            apply_behavior(sc.splits, behavior, sc.splits2);
            emit_splits(p, sc.splits2, sc.pieces_tmp);
        }
        pieces.swap(sc.pieces_tmp);
    }
};
template <class Pred>
std::unique_ptr<pre_tokenizer> char_split(Pred p, split_behavior b) {
    return std::make_unique<char_split_pre_tokenizer<Pred>>(p, b);
}

bool is_bert_punct(char32_t c) {
    return (c < 0x80 && ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
                         (c >= 123 && c <= 126))) ||
           uc::is_punctuation(c);
}

struct bert_pre_tokenizer : pre_tokenizer {
    void apply(scratch& sc, std::vector<piece>& pieces) const override {
        for (int pass = 0; pass < 2; ++pass) {
            sc.pieces_tmp.clear();
            for (const piece& p : pieces) {
                const std::string_view s(sc.arena.data() + p.off, p.len);
                if (pass == 0)
                    char_matches(s, uc::is_white_space, sc.matches);
                else
                    char_matches(s, is_bert_punct, sc.matches);
                matches_to_splits(sc.matches, s.size(), false, sc.splits);
                apply_behavior(sc.splits,
                               pass == 0 ? split_behavior::removed : split_behavior::isolated,
                               sc.splits2);
                emit_splits(p, sc.splits2, sc.pieces_tmp);
            }
            pieces.swap(sc.pieces_tmp);
        }
    }
};

struct byte_level_pre_tokenizer : pre_tokenizer {
    bool add_prefix_space = true;
    std::unique_ptr<tok_regex> re;  ///< GPT-2's pattern when use_regex
    /// The model reads raw bytes (set at load when this is the last step before a BPE model):
    /// the byte → character mapping is then left to the model's re-keyed vocabulary.
    bool raw = false;
    void apply(scratch& sc, std::vector<piece>& pieces) const override {
        sc.pieces_tmp.clear();
        for (piece p : pieces) {
            if (add_prefix_space && (p.len == 0 || sc.arena[p.off] != ' ')) {
                const std::size_t off = sc.arena.size();
                sc.arena += ' ';
                sc.arena.append(sc.arena, p.off, p.len);
                p = {off, p.len + 1, p.at_start};
            }
            const std::size_t first_out = sc.pieces_tmp.size();
            if (re) {
                const std::string_view s(sc.arena.data() + p.off, p.len);
                re->find_all(s, sc.matches);
                matches_to_splits(sc.matches, s.size(), false, sc.splits);
                apply_behavior(sc.splits, split_behavior::isolated, sc.splits2);
                emit_splits(p, sc.splits2, sc.pieces_tmp);
            } else if (p.len) {
                sc.pieces_tmp.push_back(p);
            }
            if (raw) continue;
            for (std::size_t k = first_out; k < sc.pieces_tmp.size(); ++k) {
                piece& q = sc.pieces_tmp[k];
                const std::size_t off = sc.arena.size();
                for (std::size_t i = 0; i < q.len; ++i)
                    uc::append_utf8(
                        sc.arena, byte_to_char()[static_cast<unsigned char>(sc.arena[q.off + i])]);
                q = {off, sc.arena.size() - off, q.at_start};
            }
        }
        pieces.swap(sc.pieces_tmp);
    }
};

struct metaspace_pre_tokenizer : pre_tokenizer {
    std::string replacement = "\xE2\x96\x81";  // ▁
    char32_t replacement_cp = 0x2581;
    enum { always, first, never } scheme = always;
    bool split = true;
    void apply(scratch& sc, std::vector<piece>& pieces) const override {
        sc.pieces_tmp.clear();
        for (const piece& p : pieces) {
            const std::size_t off = sc.arena.size();
            bool prepend = false;
            const std::string_view orig(sc.arena.data() + p.off, p.len);
            // After replacing ' ', does the text start with the replacement?
            const bool starts = (!orig.empty() && orig[0] == ' ') ||
                                orig.compare(0, replacement.size(), replacement) == 0;
            if (scheme == always && !starts) prepend = true;
            if (scheme == first && !starts && p.at_start) prepend = true;
            if (prepend) sc.arena += replacement;
            for (std::size_t i = 0; i < p.len; ++i) {
                const char c = sc.arena[p.off + i];
                if (c == ' ')
                    sc.arena += replacement;
                else
                    sc.arena += c;
            }
            const piece q{off, sc.arena.size() - off, p.at_start};
            if (!split) {
                if (q.len) sc.pieces_tmp.push_back(q);
                continue;
            }
            const std::string_view s(sc.arena.data() + q.off, q.len);
            char_matches(
                s, [&](char32_t c) { return c == replacement_cp; }, sc.matches);
            matches_to_splits(sc.matches, s.size(), false, sc.splits);
            apply_behavior(sc.splits, split_behavior::merged_with_next, sc.splits2);
            emit_splits(q, sc.splits2, sc.pieces_tmp);
        }
        pieces.swap(sc.pieces_tmp);
    }
};

/// `tokenizers`' fixed_script: Hiragana, Katakana and U+30FC (the prolonged sound mark, Common)
/// count as Han; ' ' has no script, like a code point that Scripts.txt 9.0 does not list.
uc::script fixed_script(char32_t c) {
    if (c == 0x30FC) return uc::script_han;
    if (c == ' ') return uc::script_any;
    const uc::script s = uc::script_of(c);
    return s == uc::script_hiragana || s == uc::script_katakana ? uc::script_han : s;
}

/// UnicodeScripts: a piece starts at each character with a script other than that of the last
/// character that had one; characters without a script join the piece they are in. As in
/// `tokenizers`, what precedes the first character with a script (leading spaces) is dropped.
struct unicode_scripts_pre_tokenizer : pre_tokenizer {
    void apply(scratch& sc, std::vector<piece>& pieces) const override {
        sc.pieces_tmp.clear();
        for (const piece& p : pieces) {
            const std::string_view s(sc.arena.data() + p.off, p.len);
            constexpr std::size_t none = std::size_t(-1);
            std::size_t start = none;
            auto emit = [&](std::size_t b, std::size_t e) {
                if (e > b) sc.pieces_tmp.push_back({p.off + b, e - b, p.at_start && b == 0});
            };
            uc::script last = uc::script_any;  // none yet: no character has had a script
            for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
                const uc::script cur = fixed_script(cp_at(s, i, len));
                if (cur == uc::script_any || cur == last) continue;
                if (start != none) emit(start, i);
                start = i;
                last = cur;
            }
            if (start != none) emit(start, s.size());
        }
        pieces.swap(sc.pieces_tmp);
    }
};

struct sequence_pre_tokenizer : pre_tokenizer {
    std::vector<std::unique_ptr<pre_tokenizer>> items;
    void apply(scratch& sc, std::vector<piece>& pieces) const override {
        for (const auto& p : items) p->apply(sc, pieces);
    }
};

std::unique_ptr<pre_tokenizer> make_pre_tokenizer(element e, const std::filesystem::path& file) {
    const std::string type = get_string(e, "type").value_or("");
    if (type == "Split") {
        auto p = std::make_unique<split_pre_tokenizer>();
        auto pat = field(e, "pattern");
        if (!pat) throw format_error(file.string() + ": Split pre-tokenizer without a pattern");
        p->pat = pattern::parse(*pat, file, "Split pre-tokenizer");
        p->behavior = parse_behavior(get_string(e, "behavior").value_or("Isolated"), file);
        p->invert = get_bool(e, "invert").value_or(false);
        return p;
    }
    if (type == "ByteLevel") {
        auto p = std::make_unique<byte_level_pre_tokenizer>();
        p->add_prefix_space = get_bool(e, "add_prefix_space").value_or(true);
        if (get_bool(e, "use_regex").value_or(true)) {
            std::string why;
            p->re = tok_regex::compile(
                R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
                why);
        }
        return p;
    }
    if (type == "Metaspace") {
        auto p = std::make_unique<metaspace_pre_tokenizer>();
        if (auto r = get_string(e, "replacement")) {
            if (r->empty())
                throw format_error(file.string() + ": Metaspace with an empty replacement");
            std::size_t len = 0;
            p->replacement_cp =
                uc::decode_utf8(reinterpret_cast<const unsigned char*>(r->data()), r->size(), len);
            p->replacement = r->substr(0, len);
        }
        const std::string scheme = get_string(e, "prepend_scheme").value_or("always");
        p->scheme = scheme == "first"   ? metaspace_pre_tokenizer::first
                    : scheme == "never" ? metaspace_pre_tokenizer::never
                                        : metaspace_pre_tokenizer::always;
        if (auto a = get_bool(e, "add_prefix_space"); a && !*a)
            p->scheme = metaspace_pre_tokenizer::never;
        p->split = get_bool(e, "split").value_or(true);
        return p;
    }
    if (type == "Digits") {
        const bool individual = get_bool(e, "individual_digits").value_or(false);
        return char_split(uc::is_numeric,
                          individual ? split_behavior::isolated : split_behavior::contiguous);
    }
    if (type == "WhitespaceSplit") return char_split(uc::is_white_space, split_behavior::removed);
    if (type == "Whitespace") {
        auto p = std::make_unique<split_pre_tokenizer>();
        std::string why;
        p->pat.re = tok_regex::compile(R"(\w+|[^\w\s]+)", why);
        p->invert = true;
        p->behavior = split_behavior::removed;
        return p;
    }
    if (type == "BertPreTokenizer") return std::make_unique<bert_pre_tokenizer>();
    if (type == "Punctuation")
        return char_split(is_bert_punct,
                          parse_behavior(get_string(e, "behavior").value_or("Isolated"), file));
    if (type == "CharDelimiterSplit") {
        const std::string d = get_string(e, "delimiter").value_or("");
        if (d.empty())
            throw format_error(file.string() + ": CharDelimiterSplit without a delimiter");
        std::size_t len = 0;
        const char32_t c =
            uc::decode_utf8(reinterpret_cast<const unsigned char*>(d.data()), d.size(), len);
        return char_split([c](char32_t x) { return x == c; }, split_behavior::removed);
    }
    if (type == "UnicodeScripts") return std::make_unique<unicode_scripts_pre_tokenizer>();
    if (type == "Sequence") {
        auto p = std::make_unique<sequence_pre_tokenizer>();
        simdjson::dom::array arr;
        auto items = field(e, "pretokenizers");
        if (!items || items->get_array().get(arr))
            throw format_error(file.string() +
                               ": Sequence pre-tokenizer without \"pretokenizers\"");
        for (auto x : arr) p->items.push_back(make_pre_tokenizer(x, file));
        return p;
    }
    unsupported(file, "pre-tokenizer type '" + type +
                          "' is not supported (Split, ByteLevel, Metaspace, Digits, "
                          "WhitespaceSplit, Whitespace, BertPreTokenizer, Punctuation, "
                          "CharDelimiterSplit, UnicodeScripts, Sequence)");
}

/// The last step of a pre-tokenizer chain when it is ByteLevel.
byte_level_pre_tokenizer* last_byte_level(pre_tokenizer* p) {
    if (auto* b = dynamic_cast<byte_level_pre_tokenizer*>(p)) return b;
    if (auto* s = dynamic_cast<sequence_pre_tokenizer*>(p))
        if (!s->items.empty()) return last_byte_level(s->items.back().get());
    return nullptr;
}

// ---- models -------------------------------------------------------------------------------------

struct model_base {
    std::uint64_t serial = next_serial.fetch_add(1);
    virtual ~model_base() = default;
    virtual void tokenize(std::string_view word, std::vector<token_id>& out, scratch& sc) const = 0;
    [[nodiscard]] virtual std::optional<token_id> token_to_id(std::string_view t) const = 0;
    /// Number of entries (`get_vocab_size`: where added tokens get their ids).
    [[nodiscard]] virtual std::size_t vocab_len() const = 0;
    /// (id, token) of every entry, for id_to_token.
    virtual void for_each(const std::function<void(token_id, std::string_view)>& f) const = 0;

    /// Serves a short word from the per-thread cache, computing it with @p compute on a miss.
    template <class F>
    void cached(std::string_view w, std::vector<token_id>& out, scratch& sc, F&& compute) const {
        if (w.size() <= decltype(sc.cache.small)::max_bytes)
            return cached_in(sc.cache.small, w, out, compute);
        if (w.size() <= decltype(sc.cache.large)::max_bytes)
            return cached_in(sc.cache.large, w, out, compute);
        compute(out);
    }
    template <class Tier, class F>
    void cached_in(Tier& c, std::string_view w, std::vector<token_id>& out, F&& compute) const {
        const std::uint64_t h = detail::hash_bytes(w.data(), w.size());
        auto& e = c.e[(h >> 17) & (Tier::slots - 1)];
        if (e.serial == serial && e.hash == h && e.len == w.size() &&
            std::memcmp(e.bytes, w.data(), w.size()) == 0) {
            out.insert(out.end(), e.ids, e.ids + e.n);
            return;
        }
        const std::size_t before = out.size();
        compute(out);
        const std::size_t n = out.size() - before;
        if (n <= Tier::max_ids) {
            e.serial = serial;
            e.hash = h;
            e.len = std::uint16_t(w.size());
            e.n = std::uint16_t(n);
            std::memcpy(e.bytes, w.data(), w.size());
            std::copy(out.begin() + std::ptrdiff_t(before), out.end(), e.ids);
        }
    }
};

/// Reads {"token": id, ...}: ids bounded before anything is sized by them.
void read_vocab_object(element v, const json_document& doc, string_table& vocab,
                       std::size_t& id_bound) {
    simdjson::dom::object obj;
    if (v.get_object().get(obj)) doc.fail("model.vocab is not an object");
    vocab.reserve(obj.size());
    std::uint64_t max_id = 0;
    for (auto [tok, idv] : obj) {
        std::uint64_t id = 0;
        if (idv.get_uint64().get(id) || id > max_token_id)
            doc.fail("model.vocab[\"" + std::string(tok) + "\"] is not a valid id");
        vocab.insert(tok, token_id(id));
        max_id = std::max(max_id, id);
    }
    if (obj.size() > 0 && max_id >= 4 * std::uint64_t(obj.size()) + 1024)
        doc.fail("model.vocab ids are sparse (max id " + std::to_string(max_id) + " for " +
                 std::to_string(obj.size()) + " tokens)");
    id_bound = obj.size() ? std::size_t(max_id) + 1 : 0;
}

struct bpe_model : model_base {
    string_table vocab;      ///< model-space strings (byte-level characters or ▁ form)
    string_table raw_vocab;  ///< raw bytes → id (byte-level tokens), when raw
    u64_table merges;        ///< (a << 32 | b) → (rank << 32 | new id)
    std::size_t id_bound = 0;
    std::optional<token_id> unk;
    std::string unk_token;
    bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
    std::optional<std::string> continuing_prefix, end_suffix;
    std::array<std::optional<token_id>, 256> byte_fallback_ids;  ///< <0xXX>
    std::vector<std::int32_t> bmp_char_id;  ///< single-character tokens of the BMP, -1 none
    bool raw = false;                       ///< input is raw bytes (see byte_level_pre_tokenizer)
    std::array<std::int64_t, 256> raw_byte_id{};  ///< raw: id of each byte's character, -1 none
    /// raw: the merge of every pair of single-byte symbols (the first round of every word),
    /// dense (512 KiB) instead of a probe of the large merge table; ~0 none.
    std::vector<std::uint64_t> byte_pair;
    /// Splitting long words before a ▁ run is exact when no token spans such a boundary: the
    /// characters that do precede ▁ inside some token (Gemma 3: '>' of ">▁</").
    bool meta_split = false;
    std::vector<char32_t> before_meta;

    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view t) const override {
        return vocab.find(t);
    }
    [[nodiscard]] std::size_t vocab_len() const override { return vocab.size(); }
    void for_each(const std::function<void(token_id, std::string_view)>& f) const override {
        for (std::size_t i = 0; i < vocab.size(); ++i) f(vocab.value_of(i), vocab.key_of(i));
    }

    [[nodiscard]] const std::uint64_t* merge_of(token_id a, token_id b) const {
        return merges.find((std::uint64_t(a) << 32) | b);
    }

    /// Appends the symbols of one character of the word (Model::merge_word's loop body).
    void add_char(std::vector<bpe_sym>& syms, std::string_view s, std::size_t byte_len,
                  std::optional<std::pair<token_id, std::size_t>>& pending_unk,
                  std::optional<token_id> id) const {
        auto push = [&](token_id t) {
            const auto idx = std::int64_t(syms.size());
            syms.push_back({t, true, idx - 1, -1});
            if (idx > 0) syms[std::size_t(idx - 1)].next = idx;
        };
        if (id) {
            if (pending_unk) {
                push(pending_unk->first);
                pending_unk.reset();
            }
            push(*id);
            return;
        }
        if (byte_fallback) {
            bool all = true;
            for (unsigned char b : s)
                if (!byte_fallback_ids[b]) all = false;
            if (all) {
                for (unsigned char b : s) push(*byte_fallback_ids[b]);
                return;  // (does not flush a pending unk, as merge_word)
            }
        }
        if (unk) {
            if (pending_unk && fuse_unk) {
                pending_unk->second += byte_len;
            } else {
                if (pending_unk) push(pending_unk->first);
                pending_unk = std::make_pair(*unk, byte_len);
            }
        }
    }

    /// Word::merge_all on a short word, in place over ids[0..n) (the ids of the word's characters,
    /// or of its raw bytes when @p bytes is given: the first round then reads the dense
    /// byte-pair table); returns the new length. tiktoken's scan: repeatedly merges the leftmost
    /// pair of lowest rank. The same order as the heap of merge_all: a symbol only grows by
    /// absorbing its right neighbour, so a heap entry whose pair still yields its new id is
    /// never stale.
    std::size_t merge_ids(token_id* id, std::size_t n, const unsigned char* bytes) const {
        constexpr std::uint64_t none = ~std::uint64_t{0};
        std::uint64_t pr[small_word];  // rank << 32 | new id of (k, k+1); ~0 none
        auto pair_at = [&](std::size_t k) -> std::uint64_t {
            const std::uint64_t* m = merge_of(id[k], id[k + 1]);
            return m ? *m : none;
        };
        if (bytes)
            for (std::size_t k = 0; k + 1 < n; ++k)
                pr[k] = byte_pair[(std::size_t(bytes[k]) << 8) | bytes[k + 1]];
        else
            for (std::size_t k = 0; k + 1 < n; ++k) pr[k] = pair_at(k);
        pr[n - 1] = none;
        while (n > 1) {
            std::uint64_t best = none;
            std::size_t at = 0;
            for (std::size_t k = 0; k + 1 < n; ++k)
                if ((pr[k] >> 32) < (best >> 32)) {
                    best = pr[k];
                    at = k;
                }
            if (best == none) break;
            id[at] = token_id(best);
            for (std::size_t k = at + 1; k + 1 < n; ++k) {
                id[k] = id[k + 1];
                pr[k] = pr[k + 1];
            }
            --n;
            pr[at] = at + 1 < n ? pair_at(at) : none;
            if (at > 0) pr[at - 1] = pair_at(at - 1);
        }
        return n;
    }

    void merge_word(std::string_view w, std::vector<token_id>& out, scratch& sc) const {
        // Fast path: a short word whose every character (byte) is a token.
        {
            token_id id[small_word];
            std::size_t n = 0;
            bool ok = true;
            if (raw) {
                ok = w.size() <= small_word && !byte_pair.empty();
                for (std::size_t i = 0; ok && i < w.size(); ++i) {
                    const std::int64_t x = raw_byte_id[static_cast<unsigned char>(w[i])];
                    if (x < 0) ok = false;
                    id[n++] = token_id(x);
                }
                if (ok) {
                    n = merge_ids(id, n, reinterpret_cast<const unsigned char*>(w.data()));
                    out.insert(out.end(), id, id + n);
                    return;
                }
            } else if (!continuing_prefix && !end_suffix) {
                for (std::size_t i = 0; ok && i < w.size();) {
                    std::size_t len;
                    const char32_t c = cp_at(w, i, len);
                    if (n == small_word || c >= 0x10000 || bmp_char_id[c] < 0) {
                        ok = false;
                        break;
                    }
                    id[n++] = token_id(bmp_char_id[c]);
                    i += len;
                }
                if (ok && n > 0) {
                    n = merge_ids(id, n, nullptr);
                    out.insert(out.end(), id, id + n);
                    return;
                }
            }
        }
        auto& syms = sc.syms;
        syms.clear();
        std::optional<std::pair<token_id, std::size_t>> pending_unk;
        if (raw) {
            for (std::size_t i = 0; i < w.size(); ++i) {
                const auto b = static_cast<unsigned char>(w[i]);
                const std::int64_t id = raw_byte_id[b];
                if (id >= 0) {
                    add_char(syms, {}, 1, pending_unk, token_id(id));
                } else {
                    std::string ch;
                    uc::append_utf8(ch, byte_to_char()[b]);
                    add_char(syms, ch, 1, pending_unk, std::nullopt);
                }
            }
        } else {
            const bool plain = !continuing_prefix && !end_suffix;
            for (std::size_t i = 0; i < w.size();) {
                std::size_t len;
                const char32_t c = cp_at(w, i, len);
                std::optional<token_id> id;
                if (plain && c < 0x10000) {
                    const std::int32_t x = bmp_char_id[c];
                    if (x >= 0) id = token_id(x);
                    if (!id)
                        add_char(syms, w.substr(i, len), len, pending_unk, std::nullopt);
                    else
                        add_char(syms, {}, len, pending_unk, id);
                } else {
                    std::string& s = sc.tmp;
                    s.clear();
                    if (i > 0 && continuing_prefix) s += *continuing_prefix;
                    s.append(w.substr(i, len));
                    if (i + len == w.size() && end_suffix) s += *end_suffix;
                    add_char(syms, s, len, pending_unk, vocab.find(s));
                }
                i += len;
            }
        }
        if (pending_unk) {
            const auto idx = std::int64_t(syms.size());
            syms.push_back({pending_unk->first, true, idx - 1, -1});
            if (idx > 0) syms[std::size_t(idx - 1)].next = idx;
        }
        merge_all(sc);
        for (const bpe_sym& s : syms)
            if (s.alive) out.push_back(s.id);
    }

    void merge_small(scratch& sc) const {
        auto& syms = sc.syms;
        token_id id[small_word];
        for (std::size_t k = 0; k < syms.size(); ++k) id[k] = syms[k].id;
        const std::size_t n = merge_ids(id, syms.size(), nullptr);
        syms.resize(n);
        for (std::size_t k = 0; k < n; ++k) syms[k] = {id[k], true, 0, 0};
    }
    static constexpr std::size_t small_word = 48;

    /// Word::merge_all: a min-heap of (rank, position); a popped entry whose pair no longer
    /// produces its new id is stale and skipped.
    void merge_all(scratch& sc) const {
        auto& syms = sc.syms;
        if (syms.size() < 2) return;
        if (syms.size() <= small_word) return merge_small(sc);
        auto& heap = sc.heap;
        heap.clear();
        const std::greater<> cmp;
        for (std::size_t i = 0; i + 1 < syms.size(); ++i)
            if (const std::uint64_t* m = merge_of(syms[i].id, syms[i + 1].id))
                heap.push_back({std::uint32_t(*m >> 32), token_id(*m), i});
        std::make_heap(heap.begin(), heap.end(), cmp);
        while (!heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), cmp);
            const merge_entry top = heap.back();
            heap.pop_back();
            const auto pos = std::size_t(top.pos);
            bpe_sym& s = syms[pos];
            if (!s.alive || s.next < 0) continue;
            bpe_sym& r = syms[std::size_t(s.next)];
            const std::uint64_t* m = merge_of(s.id, r.id);
            if (!m || token_id(*m) != top.new_id) continue;
            s.id = top.new_id;
            r.alive = false;
            s.next = r.next;
            if (s.next >= 0) syms[std::size_t(s.next)].prev = std::int64_t(pos);
            if (s.prev >= 0) {
                const bpe_sym& p = syms[std::size_t(s.prev)];
                if (const std::uint64_t* pm = merge_of(p.id, s.id)) {
                    heap.push_back(
                        {std::uint32_t(*pm >> 32), token_id(*pm), std::uint64_t(s.prev)});
                    std::push_heap(heap.begin(), heap.end(), cmp);
                }
            }
            if (s.next >= 0) {
                const bpe_sym& nx = syms[std::size_t(s.next)];
                if (const std::uint64_t* nm = merge_of(s.id, nx.id)) {
                    heap.push_back({std::uint32_t(*nm >> 32), token_id(*nm), pos});
                    std::push_heap(heap.begin(), heap.end(), cmp);
                }
            }
        }
    }

    /// One word: the cache, then ignore_merges' whole-word lookup, then the merges.
    void tokenize_part(std::string_view w, std::vector<token_id>& out, scratch& sc,
                       bool whole_word) const {
        // (With ignore_merges a part must not share cache entries with a whole word.)
        if (!whole_word && ignore_merges) return merge_word(w, out, sc);
        cached(w, out, sc, [&](std::vector<token_id>& o) {
            if (whole_word && ignore_merges)
                if (auto id = raw ? raw_vocab.find(w) : vocab.find(w)) return o.push_back(*id);
            merge_word(w, o, sc);
        });
    }

    void tokenize(std::string_view w, std::vector<token_id>& out, scratch& sc) const override {
        if (w.empty()) return;
        if (!meta_split || w.size() <= 32) return tokenize_part(w, out, sc, true);
        if (ignore_merges) {
            if (auto id = raw ? raw_vocab.find(w) : vocab.find(w)) return out.push_back(*id);
        }
        // Split before each ▁ run whose preceding character never precedes ▁ in a token.
        static constexpr std::string_view meta = "\xE2\x96\x81";
        std::size_t start = 0;
        for (std::size_t i = 1; i + 3 <= w.size(); ++i) {
            const void* hit = std::memchr(w.data() + i, 0xE2, w.size() - 2 - i);
            if (!hit) break;
            i = std::size_t(static_cast<const char*>(hit) - w.data());
            if (w.compare(i, 3, meta) != 0) continue;
            const std::size_t p = prev_cp(w, i);
            std::size_t len;
            const char32_t c = cp_at(w, p, len);
            if (c == 0x2581 ||
                std::find(before_meta.begin(), before_meta.end(), c) != before_meta.end())
                continue;
            tokenize_part(w.substr(start, i - start), out, sc, false);
            start = i;
        }
        tokenize_part(w.substr(start), out, sc, false);
    }

    /// Re-keys the vocabulary by raw bytes (byte-level BPE read without the character mapping).
    void enable_raw() {
        std::array<int, 0x144> to_byte{};
        to_byte.fill(-1);
        for (int b = 0; b < 256; ++b) to_byte[byte_to_char()[std::size_t(b)]] = b;
        raw_vocab.reserve(vocab.size());
        std::string bytes;
        for (std::size_t i = 0; i < vocab.size(); ++i) {
            const std::string_view t = vocab.key_of(i);
            bytes.clear();
            bool ok = true;
            for (std::size_t k = 0; k < t.size();) {
                std::size_t len;
                const char32_t c = cp_at(t, k, len);
                if (c >= to_byte.size() || to_byte[c] < 0) {
                    ok = false;
                    break;
                }
                bytes += char(to_byte[c]);
                k += len;
            }
            if (ok) raw_vocab.insert(bytes, vocab.value_of(i));
        }
        for (int b = 0; b < 256; ++b) {
            std::string ch;
            uc::append_utf8(ch, byte_to_char()[std::size_t(b)]);
            auto id = vocab.find(ch);
            raw_byte_id[std::size_t(b)] = id ? std::int64_t(*id) : -1;
        }
        byte_pair.assign(65536, ~std::uint64_t{0});
        for (int a = 0; a < 256; ++a)
            for (int b = 0; b < 256; ++b)
                if (raw_byte_id[std::size_t(a)] >= 0 && raw_byte_id[std::size_t(b)] >= 0)
                    if (const std::uint64_t* m = merge_of(token_id(raw_byte_id[std::size_t(a)]),
                                                          token_id(raw_byte_id[std::size_t(b)])))
                        byte_pair[std::size_t(a) << 8 | std::size_t(b)] = *m;
        raw = true;
    }
};

struct unigram_model : model_base {
    std::vector<std::pair<std::string, double>> pieces;
    string_table token_to_ids;
    byte_trie trie;  ///< piece → id (the id token_to_ids gives for it)
    double min_score = 0;
    std::optional<std::size_t> unk_id;
    bool byte_fallback = false;

    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view t) const override {
        return token_to_ids.find(t);
    }
    [[nodiscard]] std::size_t vocab_len() const override { return pieces.size(); }
    void for_each(const std::function<void(token_id, std::string_view)>& f) const override {
        for (std::size_t i = 0; i < pieces.size(); ++i) f(token_id(i), pieces[i].first);
    }

    struct node {
        std::size_t id = 0;
        double score = 0;
        std::int64_t starts_at = -1;
    };

    void encode_word(std::string_view s, std::vector<token_id>& out) const {
        thread_local std::vector<node> best;
        thread_local std::vector<std::pair<std::size_t, std::size_t>> spans;  // (start, end)
        thread_local std::vector<bool> is_unk;
        const std::size_t n = s.size();
        best.assign(n + 1, node{});
        const double unk_score = min_score - 10.0;
        for (std::size_t at = 0; at < n;) {
            const double base = best[at].score;
            std::size_t mblen;
            (void)cp_at(s, at, mblen);
            bool single = false;
            trie.prefixes(s, at, [&](std::size_t end, std::int64_t id) {
                node& t = best[end];
                const double cand = pieces[std::size_t(id)].second + base;
                if (t.starts_at < 0 || cand > t.score) {
                    t.score = cand;
                    t.starts_at = std::int64_t(at);
                    t.id = std::size_t(id);
                }
                if (end - at == mblen) single = true;
            });
            if (!single) {
                if (!unk_id)
                    throw text_error("Unigram: an unknown character and the model has no unk_id");
                node& t = best[at + mblen];
                const double cand = unk_score + base;
                if (t.starts_at < 0 || cand > t.score) {
                    t.score = cand;
                    t.starts_at = std::int64_t(at);
                    t.id = *unk_id;
                }
            }
            at += mblen;
        }
        // Back-track, fusing runs of unknown pieces into one string (fuse_unk).
        spans.clear();
        is_unk.clear();
        for (std::size_t end = n; end > 0;) {
            const node& t = best[end];
            const auto start = std::size_t(t.starts_at);
            const bool u = unk_id && t.id == *unk_id;
            if (u && !spans.empty() && is_unk.back())
                spans.back().first = start;
            else {
                spans.emplace_back(start, end);
                is_unk.push_back(u);
            }
            end = start;
        }
        for (std::size_t k = spans.size(); k-- > 0;) {
            const std::string_view t = s.substr(spans[k].first, spans[k].second - spans[k].first);
            if (auto id = token_to_ids.find(t)) {
                out.push_back(*id);
                continue;
            }
            if (byte_fallback) {
                bool all = true;
                std::vector<token_id> bytes;
                for (unsigned char b : t) {
                    char name[8];
                    std::snprintf(name, sizeof name, "<0x%02X>", b);
                    auto id = token_to_ids.find(name);
                    if (!id) {
                        all = false;
                        break;
                    }
                    bytes.push_back(*id);
                }
                if (all) {
                    out.insert(out.end(), bytes.begin(), bytes.end());
                    continue;
                }
            }
            if (!unk_id) throw text_error("Unigram: an unknown token and the model has no unk_id");
            out.push_back(token_id(*unk_id));
        }
    }

    void tokenize(std::string_view w, std::vector<token_id>& out, scratch& sc) const override {
        if (w.empty()) return;
        cached(w, out, sc, [&](std::vector<token_id>& o) { encode_word(w, o); });
    }
};

struct wordpiece_model : model_base {
    string_table vocab;
    std::size_t id_bound = 0;
    std::string unk_token = "[UNK]";
    std::string prefix = "##";
    std::size_t max_chars = 100;

    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view t) const override {
        return vocab.find(t);
    }
    [[nodiscard]] std::size_t vocab_len() const override { return vocab.size(); }
    void for_each(const std::function<void(token_id, std::string_view)>& f) const override {
        for (std::size_t i = 0; i < vocab.size(); ++i) f(vocab.value_of(i), vocab.key_of(i));
    }
    token_id unk_id() const {
        auto id = vocab.find(unk_token);
        if (!id)
            throw text_error("WordPiece: the unk token '" + unk_token +
                             "' is not in the vocabulary");
        return *id;
    }
    void tokenize(std::string_view w, std::vector<token_id>& out, scratch&) const override {
        if (w.empty()) return;
        std::size_t chars = 0;
        for (std::size_t i = 0; i < w.size(); ++i)
            if ((static_cast<unsigned char>(w[i]) & 0xC0) != 0x80) ++chars;
        if (chars > max_chars) {
            out.push_back(unk_id());
            return;
        }
        thread_local std::string sub;
        const std::size_t before = out.size();
        for (std::size_t start = 0; start < w.size();) {
            std::size_t end = w.size();
            std::optional<token_id> cur;
            while (start < end) {
                sub.clear();
                if (start > 0) sub += prefix;
                sub.append(w.substr(start, end - start));
                if ((cur = vocab.find(sub))) break;
                end = prev_cp(w, end);
            }
            if (!cur) {
                out.resize(before);
                out.push_back(unk_id());
                return;
            }
            out.push_back(*cur);
            start = end;
        }
    }
};

struct wordlevel_model : model_base {
    string_table vocab;
    std::size_t id_bound = 0;
    std::string unk_token;
    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view t) const override {
        return vocab.find(t);
    }
    [[nodiscard]] std::size_t vocab_len() const override { return vocab.size(); }
    void for_each(const std::function<void(token_id, std::string_view)>& f) const override {
        for (std::size_t i = 0; i < vocab.size(); ++i) f(vocab.value_of(i), vocab.key_of(i));
    }
    void tokenize(std::string_view w, std::vector<token_id>& out, scratch&) const override {
        if (w.empty()) return;
        if (auto id = vocab.find(w)) return out.push_back(*id);
        auto u = vocab.find(unk_token);
        if (!u)
            throw text_error("WordLevel: '" + std::string(w) +
                             "' is unknown and there is no unk token");
        out.push_back(*u);
    }
};

// ---- added tokens -------------------------------------------------------------------------------

struct added_token {
    std::string content;
    token_id id = 0;
    bool special = false, normalized = true, lstrip = false, rstrip = false, single_word = false;
};

}  // namespace

// ---- the tokenizer ------------------------------------------------------------------------------

struct hf_tokenizer::impl {
    std::filesystem::path file;
    std::unique_ptr<model_base> model;
    std::unique_ptr<normalizer> norm;
    std::unique_ptr<pre_tokenizer> pre;
    std::unique_ptr<detail::decoder_config> decoder;
    std::vector<token_id> prefix, suffix;

    std::vector<added_token> added;      ///< by id order of insertion (added_tokens_map_r values)
    string_table added_by_content;       ///< content → id
    byte_trie raw_trie, norm_trie;       ///< pattern → index into added
    std::vector<std::string> id_tokens;  ///< id → token (id_to_token), with known[]
    std::vector<std::uint8_t> known, special_id;
    std::size_t id_space = 0;

    /// AddedVocabulary::find_matches over @p s with @p trie; segments of text or token ids.
    void find_added(std::string_view s, const byte_trie& trie, bool parse_special,
                    std::vector<segment>& out) const {
        out.clear();
        if (s.empty()) return;
        if (trie.empty()) {
            out.push_back({0, s.size(), -1});
            return;
        }
        std::size_t start_offset = 0;
        for (std::size_t i = 0; i < s.size();) {
            if (!trie.may_start(static_cast<unsigned char>(s[i]))) {
                ++i;
                continue;
            }
            const auto [e, idx] = trie.longest(s, i);
            if (idx < 0) {
                ++i;
                continue;
            }
            const std::size_t mstart = i, mend = e;
            i = e;  // the leftmost-longest iterator resumes after the match
            const added_token& t = added[std::size_t(idx)];
            if (!parse_special && t.special) continue;
            std::size_t start = mstart, stop = mend;
            if (t.single_word) {
                std::size_t len;
                const bool start_space =
                    start == 0 || !uc::is_word(cp_at(s, prev_cp(s, start), len));
                const bool stop_space = stop == s.size() || !uc::is_word(cp_at(s, stop, len));
                if (!start_space || !stop_space) continue;
            }
            if (t.lstrip) {
                std::size_t b = start;
                while (b > 0) {
                    const std::size_t p = prev_cp(s, b);
                    std::size_t len;
                    if (!uc::is_white_space(cp_at(s, p, len))) break;
                    b = p;
                }
                start = std::max(b, start_offset);
            }
            if (t.rstrip) {
                while (stop < s.size()) {
                    std::size_t len;
                    if (!uc::is_white_space(cp_at(s, stop, len))) break;
                    stop += len;
                }
            }
            if (start_offset < start) out.push_back({start_offset, start, -1});
            out.push_back({start, stop, std::int64_t(t.id)});
            start_offset = stop;
        }
        if (start_offset < s.size()) out.push_back({start_offset, s.size(), -1});
    }

    void encode_text(std::string_view s, bool at_start, scratch& sc,
                     std::vector<token_id>& out) const {
        // Pre-tokenize a copy in the arena, then the model per piece.
        sc.arena.assign(s.data(), s.size());
        sc.pieces.clear();
        sc.pieces.push_back({0, s.size(), at_start});
        if (pre) pre->apply(sc, sc.pieces);
        for (const piece& p : sc.pieces)
            model->tokenize(std::string_view(sc.arena.data() + p.off, p.len), out, sc);
    }
};

hf_tokenizer::hf_tokenizer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
hf_tokenizer::~hf_tokenizer() = default;

const std::vector<token_id>& hf_tokenizer::prefix_special() const noexcept { return impl_->prefix; }
const std::vector<token_id>& hf_tokenizer::suffix_special() const noexcept { return impl_->suffix; }
std::size_t hf_tokenizer::vocab_size() const noexcept { return impl_->id_space; }
const std::filesystem::path& hf_tokenizer::path() const noexcept { return impl_->file; }

std::optional<token_id> hf_tokenizer::token_to_id(std::string_view token) const {
    if (auto id = impl_->added_by_content.find(token)) return *id;
    return impl_->model->token_to_id(token);
}

std::string hf_tokenizer::id_to_token(token_id id) const {
    return id < impl_->known.size() && impl_->known[id] ? impl_->id_tokens[id] : std::string();
}

bool hf_tokenizer::is_special(token_id id) const noexcept {
    return id < impl_->special_id.size() && impl_->special_id[id];
}

void hf_tokenizer::encode(std::string_view text, std::vector<token_id>& out,
                          const encode_options& opts) const {
    const impl& m = *impl_;
    scratch& sc = tls_scratch();
    std::string_view s = text;
    if (!uc::valid_utf8(s)) {
        sc.sanitized.clear();
        uc::append_lossy_utf8(sc.sanitized, s);
        s = sc.sanitized;
    }
    if (opts.add_special_tokens) out.insert(out.end(), m.prefix.begin(), m.prefix.end());
    m.find_added(s, m.raw_trie, opts.parse_special, sc.segs1);
    // segs1 is reused below only after this loop; copy its entries as we go.
    for (std::size_t k = 0; k < sc.segs1.size(); ++k) {
        const segment seg = sc.segs1[k];
        if (seg.id >= 0) {
            out.push_back(token_id(seg.id));
            continue;
        }
        std::string_view t = s.substr(seg.b, seg.e - seg.b);
        if (m.norm) {
            sc.norm.assign(t.data(), t.size());
            m.norm->apply(sc.norm, sc.norm_tmp);
            t = sc.norm;
        }
        m.find_added(t, m.norm_trie, opts.parse_special, sc.segs2);
        for (std::size_t j = 0; j < sc.segs2.size(); ++j) {
            const segment sub = sc.segs2[j];
            if (sub.id >= 0) {
                out.push_back(token_id(sub.id));
                continue;
            }
            m.encode_text(t.substr(sub.b, sub.e - sub.b), seg.b == 0 && sub.b == 0, sc, out);
        }
    }
    if (opts.add_special_tokens) out.insert(out.end(), m.suffix.begin(), m.suffix.end());
    if (sc.arena.capacity() > (std::size_t{1} << 24)) std::string().swap(sc.arena);
    if (sc.norm.capacity() > (std::size_t{1} << 24)) {
        std::string().swap(sc.norm);
        std::string().swap(sc.norm_tmp);
    }
    if (sc.sanitized.capacity() > (std::size_t{1} << 24)) std::string().swap(sc.sanitized);
}

// ---- decoding -----------------------------------------------------------------------------------

namespace {

struct string_sink : detail::frag_sink {
    std::string text;
    void put(std::string_view t, unsigned) override { text.append(t); }
    void end() override {}
};

}  // namespace

struct hf_tokenizer::stream_decoder::state {
    const hf_tokenizer* tok = nullptr;
    decode_options opts;
    string_sink sink;
    std::vector<std::unique_ptr<detail::frag_sink>> stages;
    bool finished = false;
    /// The prompt's text that the stream still holds back (a byte-fallback run, a token a
    /// decoder keeps until the next one): not part of the output when it comes out as is.
    std::string skip;
    std::size_t skipped = 0;

    void feed(token_id id) {
        const impl& m = *tok->impl_;
        if (id >= m.known.size() || !m.known[id]) return;  // unknown ids are skipped
        if (opts.skip_special_tokens && m.special_id[id]) return;
        stages.front()->put(m.id_tokens[id], detail::tok_whole);
    }
    /// Drops from sink.text what decode(prompt) already contains.
    void drop_prompt_tail() {
        if (skipped == skip.size()) return;
        std::string& t = sink.text;
        std::size_t k = 0;
        while (k < t.size() && skipped < skip.size() && t[k] == skip[skipped]) ++k, ++skipped;
        if (skipped < skip.size() && k < t.size()) {
            // Diverged (e.g. decode(prompt) ended in U+FFFD that the generation completes):
            // everything from here on is output.
            skipped = skip.size();
            k = 0;
        }
        t.erase(0, k);
    }
};

hf_tokenizer::stream_decoder::stream_decoder(const hf_tokenizer& tok, decode_options opts,
                                             std::span<const token_id> prompt_ids)
    : s_(std::make_unique<state>()) {
    s_->tok = &tok;
    s_->opts = opts;
    tok.impl_->decoder->instantiate(s_->sink, s_->stages);
    if (prompt_ids.empty()) return;
    for (token_id id : prompt_ids) s_->feed(id);
    const std::string full = tok.decode(prompt_ids, opts);
    if (full.size() > s_->sink.text.size() &&
        full.compare(0, s_->sink.text.size(), s_->sink.text) == 0)
        s_->skip = full.substr(s_->sink.text.size());
    s_->sink.text.clear();  // the prompt's own text is not part of the output
}
hf_tokenizer::stream_decoder::~stream_decoder() = default;
hf_tokenizer::stream_decoder::stream_decoder(stream_decoder&&) noexcept = default;
hf_tokenizer::stream_decoder& hf_tokenizer::stream_decoder::operator=(stream_decoder&&) noexcept =
    default;

std::string_view hf_tokenizer::stream_decoder::push(token_id id) {
    s_->sink.text.clear();
    if (!s_->finished) s_->feed(id);
    s_->drop_prompt_tail();
    return s_->sink.text;
}

std::string hf_tokenizer::stream_decoder::finish() {
    s_->sink.text.clear();
    if (!s_->finished) {
        s_->finished = true;
        s_->stages.front()->end();
    }
    s_->drop_prompt_tail();
    return std::move(s_->sink.text);
}

std::string hf_tokenizer::decode(std::span<const token_id> ids, const decode_options& opts) const {
    stream_decoder d(*this, opts);
    std::string out;
    for (token_id id : ids) out.append(d.push(id));
    out += d.finish();
    return out;
}

// ---- loading ------------------------------------------------------------------------------------

namespace {

void parse_post_processor(element e, hf_tokenizer::impl& m,
                          const std::function<std::optional<token_id>(std::string_view)>& id_of) {
    const auto& file = m.file;
    const std::string type = get_string(e, "type").value_or("");
    if (type == "ByteLevel") return;  // only trims offsets
    if (type == "TemplateProcessing") {
        simdjson::dom::array single;
        auto s = field(e, "single");
        if (!s || s->get_array().get(single))
            throw format_error(file.string() + ": TemplateProcessing without \"single\"");
        std::vector<std::pair<std::string, std::vector<token_id>>> specials;
        if (auto sp = field(e, "special_tokens")) {
            simdjson::dom::object obj;
            if (!sp->get_object().get(obj))
                for (auto [k, v] : obj) {
                    std::vector<token_id> ids;
                    simdjson::dom::array arr;
                    if (auto a = field(v, "ids"); a && !a->get_array().get(arr))
                        for (auto x : arr) {
                            std::uint64_t id = 0;
                            if (x.get_uint64().get(id) || id > max_token_id)
                                throw format_error(file.string() + ": bad special token id");
                            ids.push_back(token_id(id));
                        }
                    specials.emplace_back(std::string(k), std::move(ids));
                }
        }
        bool seen_a = false;
        for (auto item : single) {
            if (auto st = field(item, "SpecialToken")) {
                const std::string id = get_string(*st, "id").value_or("");
                std::vector<token_id> ids;
                auto it = std::find_if(specials.begin(), specials.end(),
                                       [&](const auto& x) { return x.first == id; });
                if (it != specials.end()) {
                    ids = it->second;
                } else if (auto x = id_of(id)) {
                    ids.push_back(*x);
                } else {
                    throw format_error(file.string() +
                                       ": post-processor names the unknown token '" + id + "'");
                }
                auto& dst = seen_a ? m.suffix : m.prefix;
                dst.insert(dst.end(), ids.begin(), ids.end());
            } else if (field(item, "Sequence")) {
                seen_a = true;
            }
        }
        return;
    }
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        auto pair_token = [&](std::string_view key) -> token_id {
            simdjson::dom::array arr;
            auto f = field(e, key);
            std::uint64_t id = 0;
            if (!f || f->get_array().get(arr) || arr.size() != 2 ||
                arr.at(1).get_uint64().get(id) || id > max_token_id)
                throw format_error(file.string() + ": " + type + " without \"" + std::string(key) +
                                   "\"");
            return token_id(id);
        };
        m.prefix.push_back(pair_token("cls"));
        m.suffix.push_back(pair_token("sep"));
        return;
    }
    if (type == "Sequence") {
        simdjson::dom::array arr;
        auto items = field(e, "processors");
        if (!items || items->get_array().get(arr))
            throw format_error(file.string() + ": Sequence post-processor without \"processors\"");
        for (auto x : arr) parse_post_processor(x, m, id_of);
        return;
    }
    unsupported(file, "post-processor type '" + type +
                          "' is not supported (TemplateProcessing, ByteLevel, RobertaProcessing, "
                          "BertProcessing, Sequence)");
}

std::unique_ptr<bpe_model> load_bpe(element model, const json_document& doc) {
    auto m = std::make_unique<bpe_model>();
    if (auto d = get_number(model, "dropout"); d && *d > 0)
        unsupported(doc.path(), "BPE dropout is not supported");
    auto v = field(model, "vocab");
    if (!v) doc.fail("model.vocab is missing");
    read_vocab_object(*v, doc, m->vocab, m->id_bound);
    m->continuing_prefix = get_string(model, "continuing_subword_prefix");
    m->end_suffix = get_string(model, "end_of_word_suffix");
    if (m->continuing_prefix && m->continuing_prefix->empty()) m->continuing_prefix.reset();
    if (m->end_suffix && m->end_suffix->empty()) m->end_suffix.reset();
    const std::size_t prefix_len = m->continuing_prefix ? m->continuing_prefix->size() : 0;

    // merges: ["a b", ...] (older files) or [["a", "b"], ...]
    simdjson::dom::array merges;
    auto mg = field(model, "merges");
    if (!mg) doc.fail("model.merges is missing");
    if (mg->get_array().get(merges)) doc.fail("model.merges is not an array");
    m->merges.reserve(merges.size());
    std::uint32_t rank = 0;
    std::string joined;
    for (auto e : merges) {
        std::string_view a, b, sv;
        simdjson::dom::array pair;
        if (!e.get_string().get(sv)) {
            const auto sp = sv.find(' ');
            if (sp == std::string_view::npos || sv.find(' ', sp + 1) != std::string_view::npos)
                doc.fail("merge " + std::to_string(rank) + " is not \"a b\"");
            a = sv.substr(0, sp);
            b = sv.substr(sp + 1);
        } else if (!e.get_array().get(pair) && pair.size() == 2) {
            if (pair.at(0).get_string().get(a) || pair.at(1).get_string().get(b))
                doc.fail("merge " + std::to_string(rank) + " is not a pair of strings");
        } else {
            doc.fail("merge " + std::to_string(rank) + " is malformed");
        }
        auto ia = m->vocab.find(a), ib = m->vocab.find(b);
        if (!ia || !ib)
            doc.fail("merge " + std::to_string(rank) + " (" + std::string(a) + " " +
                     std::string(b) + ") uses a token missing from the vocabulary");
        if (b.size() < prefix_len)
            doc.fail("merge " + std::to_string(rank) +
                     " is shorter than continuing_subword_prefix");
        // `tokenizers` strips the continuing_subword_prefix from the right part.
        joined.assign(a);
        joined.append(b.substr(prefix_len));
        auto ic = m->vocab.find(joined);
        if (!ic)
            doc.fail("merge " + std::to_string(rank) + " (" + std::string(a) + " " +
                     std::string(b) + ") produces a token missing from the vocabulary");
        m->merges.insert((std::uint64_t(*ia) << 32) | *ib, (std::uint64_t(rank) << 32) | *ic);
        ++rank;
    }
    if (auto u = get_string(model, "unk_token")) {
        m->unk_token = *u;
        m->unk = m->vocab.find(*u);
        if (!m->unk) doc.fail("unk_token '" + *u + "' is not in the vocabulary");
    }
    m->fuse_unk = get_bool(model, "fuse_unk").value_or(false);
    m->byte_fallback = get_bool(model, "byte_fallback").value_or(false);
    m->ignore_merges = get_bool(model, "ignore_merges").value_or(false);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_fallback_ids[std::size_t(b)] = m->vocab.find(name);
    }
    m->bmp_char_id.assign(0x10000, -1);
    for (std::size_t i = 0; i < m->vocab.size(); ++i) {
        const std::string_view t = m->vocab.key_of(i);
        if (t.empty()) continue;
        std::size_t len;
        const char32_t c = cp_at(t, 0, len);
        if (len == t.size() && c < 0x10000) m->bmp_char_id[c] = std::int32_t(*m->vocab.find(t));
        // Characters that precede ▁ inside a token (see meta_split).
        for (std::size_t k = 0; k + 3 <= t.size(); ++k)
            if (t.compare(k, 3, "\xE2\x96\x81") == 0 && k > 0) {
                const char32_t p = cp_at(t, prev_cp(t, k), len);
                if (p != 0x2581 && std::find(m->before_meta.begin(), m->before_meta.end(), p) ==
                                       m->before_meta.end())
                    m->before_meta.push_back(p);
            }
    }
    m->meta_split = !m->continuing_prefix && !m->end_suffix && m->vocab.find("\xE2\x96\x81") &&
                    m->before_meta.size() < 64;
    return m;
}

std::unique_ptr<unigram_model> load_unigram(element model, const json_document& doc) {
    auto m = std::make_unique<unigram_model>();
    simdjson::dom::array vocab;
    auto v = field(model, "vocab");
    if (!v || v->get_array().get(vocab)) doc.fail("Unigram model.vocab is not an array");
    if (vocab.size() > max_token_id) doc.fail("Unigram vocabulary too large");
    m->pieces.reserve(vocab.size());
    m->token_to_ids.reserve(vocab.size());
    double min_score = INFINITY;
    for (auto item : vocab) {
        simdjson::dom::array pr;
        std::string_view tok;
        if (item.get_array().get(pr) || pr.size() != 2 || pr.at(0).get_string().get(tok))
            doc.fail("Unigram vocabulary entry " + std::to_string(m->pieces.size()) +
                     " is not [piece, score]");
        auto score = as_number(pr.at(1));
        if (!score)
            doc.fail("Unigram vocabulary entry " + std::to_string(m->pieces.size()) +
                     " has no numeric score");
        m->token_to_ids.insert(tok, token_id(m->pieces.size()));
        m->pieces.emplace_back(std::string(tok), *score);
        min_score = std::min(min_score, *score);
    }
    for (const auto& [tok, score] : m->pieces)
        if (!tok.empty()) m->trie.insert(tok, *m->token_to_ids.find(tok), true);
    m->min_score = m->pieces.empty() ? 0 : min_score;
    if (auto u = get_int(model, "unk_id")) {
        if (*u < 0 || std::uint64_t(*u) >= m->pieces.size())
            doc.fail("Unigram unk_id is outside the vocabulary");
        m->unk_id = std::size_t(*u);
    }
    m->byte_fallback = get_bool(model, "byte_fallback").value_or(false);
    return m;
}

std::unique_ptr<wordpiece_model> load_wordpiece(element model, const json_document& doc) {
    auto m = std::make_unique<wordpiece_model>();
    auto v = field(model, "vocab");
    if (!v) doc.fail("model.vocab is missing");
    read_vocab_object(*v, doc, m->vocab, m->id_bound);
    m->unk_token = get_string(model, "unk_token").value_or("[UNK]");
    m->prefix = get_string(model, "continuing_subword_prefix").value_or("##");
    if (auto x = get_int(model, "max_input_chars_per_word")) {
        if (*x < 0) doc.fail("max_input_chars_per_word is negative");
        m->max_chars = std::size_t(*x);
    }
    return m;
}

std::unique_ptr<wordlevel_model> load_wordlevel(element model, const json_document& doc) {
    auto m = std::make_unique<wordlevel_model>();
    auto v = field(model, "vocab");
    if (!v) doc.fail("model.vocab is missing");
    read_vocab_object(*v, doc, m->vocab, m->id_bound);
    m->unk_token = get_string(model, "unk_token").value_or("<unk>");
    return m;
}

}  // namespace

std::shared_ptr<const hf_tokenizer> hf_tokenizer::load(const std::filesystem::path& path) {
    auto file = std::filesystem::is_directory(path) ? path / "tokenizer.json" : path;
    if (!std::filesystem::exists(file))
        throw io_error(file.string() + ": no such file (a Hugging Face tokenizer.json is needed)");
    json_document doc(file);
    auto m = std::make_unique<impl>();
    m->file = file;
    element root = doc.root();
    auto model = field(root, "model");
    if (!model || !model->is_object()) doc.fail("no \"model\" object");
    auto type = get_string(*model, "type");
    if (!type) {  // very old files have no "type" but the model's keys
        if (field(*model, "merges"))
            type = "BPE";
        else if (field(*model, "unk_id") || field(*model, "precompiled_charsmap"))
            type = "Unigram";
    }
    std::size_t model_bound = 0;
    bpe_model* bpe = nullptr;
    if (type == "BPE") {
        auto b = load_bpe(*model, doc);
        bpe = b.get();
        model_bound = b->id_bound;
        m->model = std::move(b);
    } else if (type == "Unigram") {
        auto u = load_unigram(*model, doc);
        model_bound = u->pieces.size();
        m->model = std::move(u);
    } else if (type == "WordPiece") {
        auto w = load_wordpiece(*model, doc);
        model_bound = w->id_bound;
        m->model = std::move(w);
    } else if (type == "WordLevel") {
        auto w = load_wordlevel(*model, doc);
        model_bound = w->id_bound;
        m->model = std::move(w);
    } else {
        unsupported(file, "tokenizer model type '" + type.value_or("?") +
                              "' is not supported (BPE, Unigram, WordPiece, WordLevel)");
    }

    if (auto n = field(root, "normalizer")) m->norm = make_normalizer(*n, file);
    if (auto p = field(root, "pre_tokenizer")) m->pre = make_pre_tokenizer(*p, file);
    auto dec = field(root, "decoder");
    m->decoder = detail::make_decoder(dec ? &*dec : nullptr, file);

    // Byte-level BPE reads raw bytes when ByteLevel is the last pre-tokenizer step.
    if (bpe && !bpe->continuing_prefix && !bpe->end_suffix)
        if (auto* bl = last_byte_level(m->pre.get())) {
            bl->raw = true;
            bpe->enable_raw();
        }

    // Added tokens, numbered as AddedVocabulary::add_tokens numbers them: a content already in
    // the vocabulary keeps that id, a new one takes the next id after the model's.
    if (auto at = field(root, "added_tokens")) {
        simdjson::dom::array arr;
        if (at->get_array().get(arr)) doc.fail("added_tokens is not an array");
        std::uint64_t next_id = m->model->vocab_len();
        u64_table index_of_id;  // id → index in m->added
        std::size_t n = 0;
        for (auto t : arr) {
            added_token a;
            auto id = get_int(t, "id");
            auto content = get_string(t, "content");
            if (!id || !content)
                doc.fail("added token " + std::to_string(n) + " lacks its id or content");
            if (*id < 0 || std::uint64_t(*id) > max_token_id)
                doc.fail("added token '" + *content + "' has an out-of-range id " +
                         std::to_string(*id));
            ++n;
            a.content = *content;
            a.special = get_bool(t, "special").value_or(false);
            a.normalized = get_bool(t, "normalized").value_or(!a.special);
            a.lstrip = get_bool(t, "lstrip").value_or(false);
            a.rstrip = get_bool(t, "rstrip").value_or(false);
            a.single_word = get_bool(t, "single_word").value_or(false);
            if (a.content.empty()) continue;
            std::optional<token_id> existing = m->added_by_content.find(a.content);
            if (!existing) existing = m->model->token_to_id(a.content);
            if (existing) {
                a.id = *existing;
            } else {
                if (next_id > max_token_id) doc.fail("too many added tokens");
                a.id = token_id(next_id++);
            }
            m->added_by_content.insert(a.content, a.id);
            // added_tokens_map_r: one token per id, the last one wins.
            if (const std::uint64_t* at_index = index_of_id.find(a.id)) {
                added_token& old = m->added[std::size_t(*at_index)];
                const bool was_special = old.special;
                old = a;
                old.special = old.special || was_special;  // special_tokens_set keeps it
            } else {
                index_of_id.insert(a.id, m->added.size());
                m->added.push_back(std::move(a));
            }
        }
    }
    // Normalized forms of the normalized added tokens (the `normalized_cache`).
    std::vector<std::string> patterns(m->added.size());
    for (std::size_t i = 0; i < m->added.size(); ++i) {
        patterns[i] = m->added[i].content;
        if (m->added[i].normalized && m->norm) {
            std::string tmp;
            m->norm->apply(patterns[i], tmp);
        }
        if (patterns[i].empty()) continue;
        (m->added[i].normalized ? m->norm_trie : m->raw_trie)
            .insert(patterns[i], std::int64_t(i), false);
    }

    // id → token for decoding and id_to_token.
    std::size_t bound = model_bound;
    for (const auto& a : m->added) bound = std::max<std::size_t>(bound, std::size_t(a.id) + 1);
    m->id_space = bound;
    m->id_tokens.assign(bound, std::string());
    m->known.assign(bound, 0);
    m->special_id.assign(bound, 0);
    m->model->for_each([&](token_id id, std::string_view t) {
        if (id < bound) {
            m->id_tokens[id] = t;
            m->known[id] = 1;
        }
    });
    for (std::size_t i = 0; i < m->added.size(); ++i) {
        const auto& a = m->added[i];
        m->id_tokens[a.id] = a.normalized && m->norm ? patterns[i] : a.content;
        m->known[a.id] = 1;
    }
    // skip_special_tokens compares the decoded token string with the special contents.
    string_table special_contents;
    for (const auto& a : m->added)
        if (a.special) special_contents.insert(a.content, 1);
    for (std::size_t id = 0; id < bound; ++id)
        if (m->known[id] && special_contents.find(m->id_tokens[id])) m->special_id[id] = 1;

    auto id_of = [&](std::string_view t) -> std::optional<token_id> {
        if (auto id = m->added_by_content.find(t)) return *id;
        return m->model->token_to_id(t);
    };
    if (auto pp = field(root, "post_processor")) parse_post_processor(*pp, *m, id_of);
    return std::shared_ptr<const hf_tokenizer>(new hf_tokenizer(std::move(m)));
}

}  // namespace model
POLYGLOT_END_NAMESPACE
