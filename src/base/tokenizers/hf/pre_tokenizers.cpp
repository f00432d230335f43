// SPDX-License-Identifier: Apache-2.0
// The `tokenizers` pre-tokenizers, each as the Rust library splits (see pre_tokenizers.hpp).
#include "base/tokenizers/hf/pre_tokenizers.hpp"

#include <polyglot/core/error.hpp>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/pattern.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

namespace {

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

}  // namespace

void byte_level_pre_tokenizer::apply(scratch& sc, std::vector<piece>& pieces) const {
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
                uc::append_utf8(sc.arena,
                                byte_to_char()[static_cast<unsigned char>(sc.arena[q.off + i])]);
            q = {off, sc.arena.size() - off, q.at_start};
        }
    }
    pieces.swap(sc.pieces_tmp);
}

namespace {

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

}  // namespace

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

byte_level_pre_tokenizer* last_byte_level(pre_tokenizer* p) {
    if (auto* b = dynamic_cast<byte_level_pre_tokenizer*>(p)) return b;
    if (auto* s = dynamic_cast<sequence_pre_tokenizer*>(p))
        if (!s->items.empty()) return last_byte_level(s->items.back().get());
    return nullptr;
}

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
