// SPDX-License-Identifier: Apache-2.0
// The `tokenizers` normalizers, each as the Rust library applies it (see normalizers.hpp).
#include "base/tokenizers/hf/normalizers.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstring>
#include <polyglot/core/error.hpp>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/pattern.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

namespace {

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

}  // namespace

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

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
