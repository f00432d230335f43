// SPDX-License-Identifier: Apache-2.0
// The `tokenizers` pipeline, hand-written because no Debian package provides it. Regular
// expressions run on ICU (icu::RegexPattern over UTF-8 UText, so match offsets are byte
// offsets); `\s` / `\S` are rewritten to \p{White_Space} / \P{White_Space}, which is what
// Oniguruma (the engine `tokenizers` uses) means by them (ICU's \s lacks U+000B and U+0085).
#include "common/hf_tokenizer.hpp"

#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <polyglot/core/error.hpp>
#include <queue>
#include <unordered_map>

#include "common/json_util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

namespace {

using simdjson::dom::element;

[[noreturn]] void unsupported(const std::filesystem::path& file, const std::string& what) {
    throw unsupported_error(file.string() + ": " + what);
}

// ---- UTF-8 helpers ----------------------------------------------------------------------------

void append_utf8(std::string& s, UChar32 c) {
    char buf[4];
    int32_t n = 0;
    UBool err = false;
    U8_APPEND(reinterpret_cast<uint8_t*>(buf), n, 4, c, err);
    if (!err) s.append(buf, static_cast<std::size_t>(n));
}

/// Byte length of the UTF-8 sequence starting at s[i] (1 for invalid bytes).
std::size_t utf8_len(std::string_view s, std::size_t i) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    int32_t j = static_cast<int32_t>(i);
    UChar32 c;
    U8_NEXT(p, j, static_cast<int32_t>(s.size()), c);
    (void)c;
    return static_cast<std::size_t>(j) - i;
}

UChar32 utf8_at(std::string_view s, std::size_t i) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    int32_t j = static_cast<int32_t>(i);
    UChar32 c;
    U8_NEXT(p, j, static_cast<int32_t>(s.size()), c);
    return c;
}

bool is_ws(UChar32 c) { return c >= 0 && u_hasBinaryProperty(c, UCHAR_WHITE_SPACE); }

/// GPT-2's bytes_to_unicode table: byte → code point of its printable stand-in.
const std::array<std::string, 256>& byte_chars() {
    static const std::array<std::string, 256> table = [] {
        std::array<std::string, 256> t;
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            UChar32 c = printable ? b : 256 + extra++;
            append_utf8(t[std::size_t(b)], c);
        }
        return t;
    }();
    return table;
}

// ---- regex ------------------------------------------------------------------------------------

/// Oniguruma → ICU: \s and \S as Unicode White_Space (see the file comment).
std::string translate_regex(std::string_view re) {
    std::string out;
    for (std::size_t i = 0; i < re.size(); ++i) {
        if (re[i] == '\\' && i + 1 < re.size()) {
            char n = re[i + 1];
            if (n == 's')
                out += "\\p{White_Space}";
            else if (n == 'S')
                out += "\\P{White_Space}";
            else {
                out += re[i];
                out += n;
            }
            ++i;
        } else {
            out += re[i];
        }
    }
    return out;
}

struct regex {
    std::unique_ptr<icu::RegexPattern> pattern;

    regex(std::string_view re, const std::filesystem::path& file) {
        UErrorCode status = U_ZERO_ERROR;
        UParseError pe{};
        pattern.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(translate_regex(re)),
                                                 0, pe, status));
        if (U_FAILURE(status))
            throw format_error(file.string() + ": cannot compile the regex '" + std::string(re) +
                               "' (" + u_errorName(status) + ")");
    }

    /// Byte ranges of the successive non-overlapping matches in @p s.
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
            if (e > b) out.emplace_back(b, e);
        }
        m.reset();
        utext_close(ut);
    }
};

// ---- pieces -----------------------------------------------------------------------------------

/// A piece of input on its way through the pipeline: either text still to be split and
/// tokenized, or an added token already resolved to its id.
struct piece {
    std::string text;
    bool at_start = false;  ///< begins at offset 0 of the input (Metaspace prepend_scheme "first")
    std::optional<token_id> added;
};

enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

/// Splits @p s into segments given match ranges, as `tokenizers`' Split.
void apply_behavior(const std::string& s, const std::vector<std::pair<std::size_t, std::size_t>>& m,
                    bool invert, split_behavior b, std::vector<std::string>& out) {
    // (range, is_match)
    std::vector<std::tuple<std::size_t, std::size_t, bool>> segs;
    std::size_t prev = 0;
    for (auto [mb, me] : m) {
        if (mb > prev) segs.emplace_back(prev, mb, false);
        segs.emplace_back(mb, me, true);
        prev = me;
    }
    if (prev < s.size()) segs.emplace_back(prev, s.size(), false);
    if (invert)
        for (auto& sg : segs) std::get<2>(sg) = !std::get<2>(sg);
    std::vector<std::pair<std::size_t, std::size_t>> res;
    switch (b) {
        case split_behavior::isolated:
            for (auto& [x, y, is] : segs) res.emplace_back(x, y);
            break;
        case split_behavior::removed:
            for (auto& [x, y, is] : segs)
                if (!is) res.emplace_back(x, y);
            break;
        case split_behavior::merged_with_previous: {
            bool prev_match = false;
            for (auto& [x, y, is] : segs) {
                if (is && !prev_match && !res.empty())
                    res.back().second = y;
                else
                    res.emplace_back(x, y);
                prev_match = is;
            }
            break;
        }
        case split_behavior::merged_with_next: {
            bool prev_match = false;
            for (auto& [x, y, is] : segs) {
                if (prev_match && !res.empty())
                    res.back().second = y;
                else
                    res.emplace_back(x, y);
                prev_match = is;
            }
            break;
        }
        case split_behavior::contiguous: {
            bool prev_match = false;
            for (auto& [x, y, is] : segs) {
                if (is && prev_match && !res.empty())
                    res.back().second = y;
                else
                    res.emplace_back(x, y);
                prev_match = is;
            }
            break;
        }
    }
    for (auto [x, y] : res)
        if (y > x) out.emplace_back(s.substr(x, y - x));
}

// ---- normalizers ------------------------------------------------------------------------------

struct normalizer {
    virtual ~normalizer() = default;
    virtual void apply(std::string& s) const = 0;
};

struct unicode_normalizer : normalizer {
    const icu::Normalizer2* n = nullptr;
    void apply(std::string& s) const override {
        UErrorCode status = U_ZERO_ERROR;
        if (n->isNormalized(icu::UnicodeString::fromUTF8(s), status) && U_SUCCESS(status)) return;
        status = U_ZERO_ERROR;
        std::string out;
        icu::StringByteSink<std::string> sink(&out);
        n->normalizeUTF8(0, s, sink, nullptr, status);
        if (U_SUCCESS(status)) s = std::move(out);
    }
};

struct lowercase_normalizer : normalizer {
    void apply(std::string& s) const override {
        icu::UnicodeString u = icu::UnicodeString::fromUTF8(s);
        u.toLower(icu::Locale::getRoot());
        s.clear();
        u.toUTF8String(s);
    }
};

struct replace_normalizer : normalizer {
    std::string literal;
    std::unique_ptr<regex> re;
    std::string content;
    void apply(std::string& s) const override {
        std::string out;
        if (re) {
            std::vector<std::pair<std::size_t, std::size_t>> m;
            re->find_all(s, m);
            std::size_t prev = 0;
            for (auto [b, e] : m) {
                out.append(s, prev, b - prev);
                out += content;
                prev = e;
            }
            out.append(s, prev, std::string::npos);
        } else {
            if (literal.empty()) return;
            std::size_t prev = 0, pos;
            while ((pos = s.find(literal, prev)) != std::string::npos) {
                out.append(s, prev, pos - prev);
                out += content;
                prev = pos + literal.size();
            }
            out.append(s, prev, std::string::npos);
        }
        s = std::move(out);
    }
};

struct prepend_normalizer : normalizer {
    std::string prefix;
    void apply(std::string& s) const override {
        if (!s.empty()) s.insert(0, prefix);
    }
};

struct strip_normalizer : normalizer {
    bool left = true, right = true;
    void apply(std::string& s) const override {
        std::size_t b = 0, e = s.size();
        if (left)
            while (b < e && is_ws(utf8_at(s, b))) b += utf8_len(s, b);
        if (right)
            while (e > b) {
                std::size_t p = e - 1;
                while (p > b && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
                if (!is_ws(utf8_at(s, p))) break;
                e = p;
            }
        s = s.substr(b, e - b);
    }
};

struct sequence_normalizer : normalizer {
    std::vector<std::unique_ptr<normalizer>> items;
    void apply(std::string& s) const override {
        for (auto& n : items) n->apply(s);
    }
};

std::unique_ptr<normalizer> make_normalizer(element e, const std::filesystem::path& file) {
    auto type = get_string(e, "type").value_or("");
    UErrorCode status = U_ZERO_ERROR;
    if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
        auto n = std::make_unique<unicode_normalizer>();
        n->n = type == "NFC"    ? icu::Normalizer2::getNFCInstance(status)
               : type == "NFD"  ? icu::Normalizer2::getNFDInstance(status)
               : type == "NFKC" ? icu::Normalizer2::getNFKCInstance(status)
                                : icu::Normalizer2::getNFKDInstance(status);
        if (U_FAILURE(status))
            throw text_error("ICU normalizer: " + std::string(u_errorName(status)));
        return n;
    }
    if (type == "Lowercase") return std::make_unique<lowercase_normalizer>();
    if (type == "Replace") {
        auto n = std::make_unique<replace_normalizer>();
        n->content = get_string(e, "content").value_or("");
        auto pat = field(e, "pattern");
        if (!pat) throw format_error(file.string() + ": Replace normalizer without a pattern");
        if (auto s = get_string(*pat, "String"))
            n->literal = *s;
        else if (auto r = get_string(*pat, "Regex"))
            n->re = std::make_unique<regex>(*r, file);
        else
            throw format_error(file.string() + ": Replace normalizer with an unknown pattern");
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
                          "Strip, Sequence)");
}

// ---- pre-tokenizers ---------------------------------------------------------------------------

struct pre_tokenizer {
    virtual ~pre_tokenizer() = default;
    /// Splits each of @p splits further (in place).
    virtual void apply(std::vector<piece>& splits) const = 0;
};

struct split_pre_tokenizer : pre_tokenizer {
    std::unique_ptr<regex> re;
    std::string literal;
    split_behavior behavior = split_behavior::isolated;
    bool invert = false;
    void apply(std::vector<piece>& splits) const override {
        std::vector<piece> out;
        std::vector<std::pair<std::size_t, std::size_t>> m;
        std::vector<std::string> parts;
        for (auto& p : splits) {
            if (re)
                re->find_all(p.text, m);
            else {
                m.clear();
                if (!literal.empty()) {
                    std::size_t pos = 0;
                    while ((pos = p.text.find(literal, pos)) != std::string::npos) {
                        m.emplace_back(pos, pos + literal.size());
                        pos += literal.size();
                    }
                }
            }
            parts.clear();
            apply_behavior(p.text, m, invert, behavior, parts);
            bool first = true;
            for (auto& s : parts) {
                out.push_back({std::move(s), p.at_start && first, std::nullopt});
                first = false;
            }
        }
        splits = std::move(out);
    }
};

constexpr std::string_view gpt2_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct byte_level_pre_tokenizer : pre_tokenizer {
    bool add_prefix_space = false;
    std::unique_ptr<regex> re;  ///< set when use_regex
    void apply(std::vector<piece>& splits) const override {
        std::vector<piece> out;
        std::vector<std::pair<std::size_t, std::size_t>> m;
        std::vector<std::string> parts;
        for (auto& p : splits) {
            if (add_prefix_space && (p.text.empty() || p.text[0] != ' ')) p.text.insert(0, " ");
            parts.clear();
            if (re) {
                re->find_all(p.text, m);
                apply_behavior(p.text, m, false, split_behavior::isolated, parts);
            } else if (!p.text.empty()) {
                parts.push_back(p.text);
            }
            bool first = true;
            for (auto& s : parts) {
                std::string mapped;
                for (unsigned char c : s) mapped += byte_chars()[c];
                out.push_back({std::move(mapped), p.at_start && first, std::nullopt});
                first = false;
            }
        }
        splits = std::move(out);
    }
};

struct metaspace_pre_tokenizer : pre_tokenizer {
    std::string replacement = "\xE2\x96\x81";  // ▁
    std::string prepend_scheme = "always";
    bool split = true;
    void apply(std::vector<piece>& splits) const override {
        std::vector<piece> out;
        for (auto& p : splits) {
            std::string s;
            for (char c : p.text) {
                if (c == ' ')
                    s += replacement;
                else
                    s += c;
            }
            if ((prepend_scheme == "always" || (prepend_scheme == "first" && p.at_start)) &&
                s.compare(0, replacement.size(), replacement) != 0)
                s.insert(0, replacement);
            if (!split) {
                if (!s.empty()) out.push_back({std::move(s), p.at_start, std::nullopt});
                continue;
            }
            // MergedWithNext on the replacement character.
            std::vector<std::pair<std::size_t, std::size_t>> m;
            std::size_t pos = 0;
            while ((pos = s.find(replacement, pos)) != std::string::npos) {
                m.emplace_back(pos, pos + replacement.size());
                pos += replacement.size();
            }
            std::vector<std::string> parts;
            apply_behavior(s, m, false, split_behavior::merged_with_next, parts);
            bool first = true;
            for (auto& x : parts) {
                out.push_back({std::move(x), p.at_start && first, std::nullopt});
                first = false;
            }
        }
        splits = std::move(out);
    }
};

struct digits_pre_tokenizer : pre_tokenizer {
    bool individual = false;
    void apply(std::vector<piece>& splits) const override {
        std::vector<piece> out;
        for (auto& p : splits) {
            std::vector<std::pair<std::size_t, std::size_t>> m;
            for (std::size_t i = 0; i < p.text.size();) {
                std::size_t n = utf8_len(p.text, i);
                if (u_isdigit(utf8_at(p.text, i))) {
                    if (!individual && !m.empty() && m.back().second == i)
                        m.back().second = i + n;
                    else
                        m.emplace_back(i, i + n);
                }
                i += n;
            }
            std::vector<std::string> parts;
            apply_behavior(p.text, m, false, split_behavior::isolated, parts);
            bool first = true;
            for (auto& x : parts) {
                out.push_back({std::move(x), p.at_start && first, std::nullopt});
                first = false;
            }
        }
        splits = std::move(out);
    }
};

struct whitespace_split_pre_tokenizer : pre_tokenizer {
    void apply(std::vector<piece>& splits) const override {
        std::vector<piece> out;
        for (auto& p : splits) {
            std::size_t i = 0;
            bool first = true;
            while (i < p.text.size()) {
                while (i < p.text.size() && is_ws(utf8_at(p.text, i))) i += utf8_len(p.text, i);
                std::size_t b = i;
                while (i < p.text.size() && !is_ws(utf8_at(p.text, i))) i += utf8_len(p.text, i);
                if (i > b) {
                    out.push_back({p.text.substr(b, i - b), p.at_start && first, std::nullopt});
                    first = false;
                }
            }
        }
        splits = std::move(out);
    }
};

struct sequence_pre_tokenizer : pre_tokenizer {
    std::vector<std::unique_ptr<pre_tokenizer>> items;
    void apply(std::vector<piece>& splits) const override {
        for (auto& p : items) p->apply(splits);
    }
};

split_behavior parse_behavior(std::string_view s, const std::filesystem::path& file) {
    if (s == "Isolated") return split_behavior::isolated;
    if (s == "Removed") return split_behavior::removed;
    if (s == "MergedWithPrevious") return split_behavior::merged_with_previous;
    if (s == "MergedWithNext") return split_behavior::merged_with_next;
    if (s == "Contiguous") return split_behavior::contiguous;
    unsupported(file, "Split behavior '" + std::string(s) + "' is not supported");
}

std::unique_ptr<pre_tokenizer> make_pre_tokenizer(element e, const std::filesystem::path& file) {
    auto type = get_string(e, "type").value_or("");
    if (type == "Split") {
        auto p = std::make_unique<split_pre_tokenizer>();
        auto pat = field(e, "pattern");
        if (!pat) throw format_error(file.string() + ": Split pre-tokenizer without a pattern");
        if (auto s = get_string(*pat, "String"))
            p->literal = *s;
        else if (auto r = get_string(*pat, "Regex"))
            p->re = std::make_unique<regex>(*r, file);
        else
            throw format_error(file.string() + ": Split pre-tokenizer with an unknown pattern");
        p->behavior = parse_behavior(get_string(e, "behavior").value_or("Isolated"), file);
        p->invert = get_bool(e, "invert").value_or(false);
        return p;
    }
    if (type == "ByteLevel") {
        auto p = std::make_unique<byte_level_pre_tokenizer>();
        p->add_prefix_space = get_bool(e, "add_prefix_space").value_or(true);
        if (get_bool(e, "use_regex").value_or(true))
            p->re = std::make_unique<regex>(gpt2_pattern, file);
        return p;
    }
    if (type == "Metaspace") {
        auto p = std::make_unique<metaspace_pre_tokenizer>();
        if (auto r = get_string(e, "replacement")) p->replacement = *r;
        if (auto s = get_string(e, "prepend_scheme"))
            p->prepend_scheme = *s;
        else if (auto a = get_bool(e, "add_prefix_space"))
            p->prepend_scheme = *a ? "always" : "never";
        p->split = get_bool(e, "split").value_or(true);
        return p;
    }
    if (type == "Digits") {
        auto p = std::make_unique<digits_pre_tokenizer>();
        p->individual = get_bool(e, "individual_digits").value_or(false);
        return p;
    }
    if (type == "WhitespaceSplit") return std::make_unique<whitespace_split_pre_tokenizer>();
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
                          "WhitespaceSplit, Sequence)");
}

// ---- added tokens -----------------------------------------------------------------------------

struct added_token {
    std::string content;
    token_id id = 0;
    bool special = false;
    bool normalized = false;
    bool lstrip = false, rstrip = false, single_word = false;
};

bool is_word_char(UChar32 c) { return c == '_' || u_isalnum(c); }

}  // namespace

// ---- the tokenizer ----------------------------------------------------------------------------

struct hf_tokenizer::impl {
    std::filesystem::path file;
    std::unordered_map<std::string, token_id> vocab;
    std::vector<std::string> id_to_token;
    std::unordered_map<std::uint64_t, std::pair<std::uint32_t, token_id>> merges;  // pair→(rank,id)
    std::optional<token_id> unk;
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
    std::string continuing_prefix, end_suffix;
    std::array<std::optional<token_id>, 256> byte_tokens;  // <0xXX>
    std::vector<added_token> added;
    std::unique_ptr<normalizer> norm;
    std::unique_ptr<pre_tokenizer> pre;
    std::vector<token_id> prefix, suffix;

    static std::uint64_t key(token_id a, token_id b) { return (std::uint64_t(a) << 32) | b; }

    std::optional<token_id> lookup(std::string_view s) const {
        auto it = vocab.find(std::string(s));
        if (it == vocab.end()) return std::nullopt;
        return it->second;
    }

    /// BPE on one pre-tokenized word, as `tokenizers`' Word::merge_all (merges applied by
    /// rank, ties by position).
    void bpe(const std::string& w, std::vector<token_id>& out) const {
        if (w.empty()) return;
        if (ignore_merges) {
            if (auto id = lookup(w)) {
                out.push_back(*id);
                return;
            }
        }
        struct sym {
            token_id id;
            int prev, next;
            std::size_t len;
        };
        std::vector<sym> syms;
        std::optional<token_id> pending_unk;
        auto push = [&](token_id id, std::size_t len) {
            int idx = static_cast<int>(syms.size());
            syms.push_back({id, idx - 1, -1, len});
            if (idx > 0) syms[std::size_t(idx - 1)].next = idx;
        };
        for (std::size_t i = 0; i < w.size();) {
            std::size_t n = utf8_len(w, i);
            std::string ch = w.substr(i, n);
            if (!continuing_prefix.empty() && i > 0) ch = continuing_prefix + ch;
            if (!end_suffix.empty() && i + n == w.size()) ch += end_suffix;
            if (auto id = lookup(ch)) {
                push(*id, n);
            } else if (byte_fallback &&
                       std::all_of(w.begin() + long(i), w.begin() + long(i + n), [&](char c) {
                           return byte_tokens[static_cast<unsigned char>(c)].has_value();
                       })) {
                for (std::size_t k = 0; k < n; ++k)
                    push(*byte_tokens[static_cast<unsigned char>(w[i + k])], 1);
            } else if (unk) {
                if (fuse_unk && !syms.empty() && syms.back().id == *unk)
                    syms.back().len += n;
                else
                    push(*unk, n);
            }
            i += n;
        }
        struct cand {
            std::uint32_t rank;
            int pos;
            token_id id;
            bool operator<(const cand& o) const {  // priority_queue: top = lowest rank, pos
                return rank != o.rank ? rank > o.rank : pos > o.pos;
            }
        };
        std::priority_queue<cand> q;
        auto consider = [&](int a) {
            if (a < 0) return;
            int b = syms[std::size_t(a)].next;
            if (b < 0) return;
            auto it = merges.find(key(syms[std::size_t(a)].id, syms[std::size_t(b)].id));
            if (it != merges.end()) q.push({it->second.first, a, it->second.second});
        };
        for (int i = 0; i + 1 < int(syms.size()); ++i) consider(i);
        while (!q.empty()) {
            cand c = q.top();
            q.pop();
            sym& s = syms[std::size_t(c.pos)];
            if (s.len == 0 || s.next < 0) continue;
            sym& r = syms[std::size_t(s.next)];
            auto it = merges.find(key(s.id, r.id));
            if (it == merges.end() || it->second.second != c.id) continue;
            s.id = c.id;
            s.len += r.len;
            r.len = 0;
            s.next = r.next;
            if (s.next >= 0) syms[std::size_t(s.next)].prev = c.pos;
            consider(s.prev);
            consider(c.pos);
        }
        for (auto& s : syms)
            if (s.len) out.push_back(s.id);
    }

    /// Splits @p p on the added tokens of the given normalized-ness (leftmost-longest).
    void split_added(std::vector<piece>& pieces, bool normalized_tokens, bool parse_special) const {
        std::vector<piece> out;
        for (auto& p : pieces) {
            if (p.added) {
                out.push_back(std::move(p));
                continue;
            }
            const std::string& s = p.text;
            std::size_t start = 0, i = 0;
            bool first = true;
            while (i < s.size()) {
                const added_token* best = nullptr;
                for (auto& t : added) {
                    if (t.normalized != normalized_tokens || (t.special && !parse_special))
                        continue;
                    if (t.content.empty() || s.compare(i, t.content.size(), t.content) != 0)
                        continue;
                    if (best && best->content.size() >= t.content.size()) continue;
                    if (t.single_word) {
                        std::size_t e = i + t.content.size();
                        bool left_ok =
                            i == 0 || !is_word_char(utf8_at(s, [&] {
                                std::size_t q = i - 1;
                                while (q > 0 && (static_cast<unsigned char>(s[q]) & 0xC0) == 0x80)
                                    --q;
                                return q;
                            }()));
                        bool right_ok = e >= s.size() || !is_word_char(utf8_at(s, e));
                        if (!left_ok || !right_ok) continue;
                    }
                    best = &t;
                }
                if (!best) {
                    i += utf8_len(s, i);
                    continue;
                }
                std::size_t b = i, e = i + best->content.size();
                if (best->lstrip)
                    while (b > start && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
                if (best->rstrip)
                    while (e < s.size() && std::isspace(static_cast<unsigned char>(s[e]))) ++e;
                if (b > start) out.push_back({s.substr(start, b - start), p.at_start && first, {}});
                out.push_back({std::string(), false, best->id});
                first = false;
                start = i = e;
            }
            if (start < s.size()) out.push_back({s.substr(start), p.at_start && first, {}});
        }
        pieces = std::move(out);
    }
};

hf_tokenizer::hf_tokenizer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
hf_tokenizer::~hf_tokenizer() = default;

const std::vector<token_id>& hf_tokenizer::prefix_special() const noexcept { return impl_->prefix; }
const std::vector<token_id>& hf_tokenizer::suffix_special() const noexcept { return impl_->suffix; }
std::size_t hf_tokenizer::vocab_size() const noexcept { return impl_->id_to_token.size(); }
const std::filesystem::path& hf_tokenizer::path() const noexcept { return impl_->file; }

std::optional<token_id> hf_tokenizer::token_to_id(std::string_view token) const {
    for (auto& t : impl_->added)
        if (t.content == token) return t.id;
    return impl_->lookup(token);
}

std::string hf_tokenizer::id_to_token(token_id id) const {
    return id < impl_->id_to_token.size() ? impl_->id_to_token[id] : std::string();
}

void hf_tokenizer::encode(std::string_view text, std::vector<token_id>& out,
                          const encode_options& opts) const {
    const impl& m = *impl_;
    if (opts.add_special_tokens) out.insert(out.end(), m.prefix.begin(), m.prefix.end());
    std::vector<piece> pieces;
    pieces.push_back({std::string(text), true, std::nullopt});
    m.split_added(pieces, false, opts.parse_special);
    if (m.norm)
        for (auto& p : pieces)
            if (!p.added) m.norm->apply(p.text);
    m.split_added(pieces, true, opts.parse_special);
    std::vector<piece> words;
    for (auto& p : pieces) {
        if (p.added) {
            out.push_back(*p.added);
            continue;
        }
        if (p.text.empty()) continue;
        words.clear();
        words.push_back(std::move(p));
        if (m.pre) m.pre->apply(words);
        for (auto& w : words) m.bpe(w.text, out);
    }
    if (opts.add_special_tokens) out.insert(out.end(), m.suffix.begin(), m.suffix.end());
}

// ---- loading ----------------------------------------------------------------------------------

namespace {

void parse_post_processor(element e, hf_tokenizer::impl& m,
                          const std::unordered_map<std::string, token_id>& by_content) {
    const auto& file = m.file;
    auto type = get_string(e, "type").value_or("");
    auto id_of = [&](std::string_view tok) -> token_id {
        auto it = by_content.find(std::string(tok));
        if (it == by_content.end())
            throw format_error(file.string() + ": post-processor names the unknown token '" +
                               std::string(tok) + "'");
        return it->second;
    };
    if (type == "ByteLevel") return;  // only trims offsets
    if (type == "TemplateProcessing") {
        simdjson::dom::array single;
        auto s = field(e, "single");
        if (!s || s->get_array().get(single))
            throw format_error(file.string() + ": TemplateProcessing without \"single\"");
        std::unordered_map<std::string, std::vector<token_id>> specials;
        if (auto sp = field(e, "special_tokens")) {
            simdjson::dom::object obj;
            if (!sp->get_object().get(obj))
                for (auto [k, v] : obj) {
                    std::vector<token_id> ids;
                    simdjson::dom::array arr;
                    if (auto a = field(v, "ids"); a && !a->get_array().get(arr))
                        for (auto x : arr) {
                            std::uint64_t id = 0;
                            if (x.get_uint64().get(id))
                                throw format_error(file.string() + ": bad special token id");
                            ids.push_back(token_id(id));
                        }
                    specials.emplace(std::string(k), std::move(ids));
                }
        }
        bool seen_a = false;
        for (auto item : single) {
            if (auto st = field(item, "SpecialToken")) {
                auto id = get_string(*st, "id").value_or("");
                auto it = specials.find(id);
                std::vector<token_id> ids =
                    it != specials.end() ? it->second : std::vector<token_id>{id_of(id)};
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
            if (!f || f->get_array().get(arr) || arr.size() != 2 || arr.at(1).get_uint64().get(id))
                throw format_error(file.string() + ": " + std::string(type) + " without \"" +
                                   std::string(key) + "\"");
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
        for (auto x : arr) parse_post_processor(x, m, by_content);
        return;
    }
    unsupported(file, "post-processor type '" + type +
                          "' is not supported (TemplateProcessing, ByteLevel, RobertaProcessing, "
                          "BertProcessing, Sequence)");
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
    if (!type) {  // very old files have no "type" but BPE's keys
        if (field(*model, "merges")) type = "BPE";
    }
    if (type != "BPE")
        unsupported(file, "tokenizer model type '" + type.value_or("?") +
                              "' is not supported (only BPE: byte-level or with byte fallback)");
    if (auto d = get_number(*model, "dropout"); d && *d > 0)
        unsupported(file, "BPE dropout is not supported");

    // vocab
    simdjson::dom::object vocab;
    auto v = field(*model, "vocab");
    if (!v || v->get_object().get(vocab)) doc.fail("model.vocab is not an object");
    std::size_t max_id = 0;
    for (auto [tok, idv] : vocab) {
        std::uint64_t id = 0;
        if (idv.get_uint64().get(id) || id > 0x7fffffffu)
            doc.fail("model.vocab[\"" + std::string(tok) + "\"] is not a valid id");
        m->vocab.emplace(std::string(tok), token_id(id));
        max_id = std::max<std::size_t>(max_id, id);
    }
    // added tokens
    std::unordered_map<std::string, token_id> by_content(m->vocab);
    if (auto at = field(root, "added_tokens")) {
        simdjson::dom::array arr;
        if (at->get_array().get(arr)) doc.fail("added_tokens is not an array");
        for (auto t : arr) {
            added_token a;
            auto id = get_int(t, "id");
            auto content = get_string(t, "content");
            if (!id || *id < 0 || !content) doc.fail("an added token lacks its id or content");
            a.id = token_id(*id);
            a.content = *content;
            a.special = get_bool(t, "special").value_or(false);
            a.normalized = get_bool(t, "normalized").value_or(!a.special);
            a.lstrip = get_bool(t, "lstrip").value_or(false);
            a.rstrip = get_bool(t, "rstrip").value_or(false);
            a.single_word = get_bool(t, "single_word").value_or(false);
            max_id = std::max<std::size_t>(max_id, a.id);
            by_content[a.content] = a.id;
            m->added.push_back(std::move(a));
        }
    }
    m->id_to_token.resize(max_id + 1);
    for (auto& [tok, id] : m->vocab) m->id_to_token[id] = tok;
    for (auto& a : m->added) m->id_to_token[a.id] = a.content;

    // merges: ["a b", ...] (older files) or [["a", "b"], ...]
    simdjson::dom::array merges;
    auto mg = field(*model, "merges");
    if (mg && mg->get_array().get(merges)) doc.fail("model.merges is not an array");
    std::uint32_t rank = 0;
    if (mg)
        for (auto e : merges) {
            std::string a, b;
            std::string_view sv;
            simdjson::dom::array pair;
            if (!e.get_string().get(sv)) {
                auto sp = sv.find(' ', 1);
                if (sp == std::string_view::npos)
                    doc.fail("merge " + std::to_string(rank) + " is not \"a b\"");
                a = sv.substr(0, sp);
                b = sv.substr(sp + 1);
            } else if (!e.get_array().get(pair) && pair.size() == 2) {
                std::string_view x, y;
                if (pair.at(0).get_string().get(x) || pair.at(1).get_string().get(y))
                    doc.fail("merge " + std::to_string(rank) + " is not a pair of strings");
                a = x;
                b = y;
            } else {
                doc.fail("merge " + std::to_string(rank) + " is malformed");
            }
            auto ia = m->lookup(a), ib = m->lookup(b), ic = m->lookup(a + b);
            if (!ia || !ib)
                doc.fail("merge " + std::to_string(rank) + " (" + a + " " + b +
                         ") uses a token missing from the vocabulary");
            if (!ic)
                doc.fail("merge " + std::to_string(rank) + " (" + a + " " + b +
                         ") produces a token missing from the vocabulary");
            m->merges.emplace(impl::key(*ia, *ib), std::make_pair(rank, *ic));
            ++rank;
        }
    if (auto u = get_string(*model, "unk_token")) {
        m->unk = m->lookup(*u);
        if (!m->unk) {
            auto it = by_content.find(*u);
            if (it != by_content.end()) m->unk = it->second;
        }
    }
    m->fuse_unk = get_bool(*model, "fuse_unk").value_or(false);
    m->byte_fallback = get_bool(*model, "byte_fallback").value_or(false);
    m->ignore_merges = get_bool(*model, "ignore_merges").value_or(false);
    m->continuing_prefix = get_string(*model, "continuing_subword_prefix").value_or("");
    m->end_suffix = get_string(*model, "end_of_word_suffix").value_or("");
    if (m->byte_fallback)
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            m->byte_tokens[std::size_t(b)] = m->lookup(name);
        }

    if (auto n = field(root, "normalizer")) m->norm = make_normalizer(*n, file);
    if (auto p = field(root, "pre_tokenizer")) m->pre = make_pre_tokenizer(*p, file);
    if (auto pp = field(root, "post_processor")) parse_post_processor(*pp, *m, by_content);
    return std::shared_ptr<const hf_tokenizer>(new hf_tokenizer(std::move(m)));
}

}  // namespace model
POLYGLOT_END_NAMESPACE
