// SPDX-License-Identifier: Apache-2.0
// The `tokenizers` decoders (ByteLevel, ByteFallback, Metaspace, Replace, Fuse, Strip, WordPiece,
// BPEDecoder, CTC, Sequence) as stream stages: each reproduces the decoder's decode_chain, and a
// stage that needs a whole token buffers its fragments until the token ends.
#include "base/tokenizers/hf/decoders.hpp"

#include <array>
#include <polyglot/core/error.hpp>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/regex.hpp"
#include "base/unicode/unicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

namespace {

using simdjson::dom::element;
namespace uc = unicode;

[[noreturn]] void unsupported(const std::filesystem::path& file, const std::string& what) {
    throw unsupported_error(file.string() + ": " + what);
}

constexpr std::string_view replacement_char = "\xEF\xBF\xBD";  // U+FFFD

/// GPT-2's byte → printable code point table, and its inverse for code points < 0x144.
struct byte_level_tables {
    std::array<char32_t, 256> to_char{};
    std::array<int, 0x144> to_byte{};
    byte_level_tables() {
        to_byte.fill(-1);
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            to_char[std::size_t(b)] = char32_t(printable ? b : 256 + extra++);
            to_byte[to_char[std::size_t(b)]] = b;
        }
    }
};
const byte_level_tables& bl_tables() {
    static const byte_level_tables t;
    return t;
}

/// Base for stages that work on whole tokens: collects fragments, calls token() per token.
struct whole_token_stage : frag_sink {
    frag_sink* next = nullptr;
    std::string cur;
    bool have = false;
    std::size_t index = 0;  ///< tokens completed so far

    virtual void token(std::string& t, std::size_t i) = 0;
    virtual void finished() {}

    void flush() {
        if (!have) return;
        token(cur, index++);
        cur.clear();
        have = false;
    }
    void put(std::string_view text, unsigned flags) override {
        if (flags & tok_start) flush();
        cur.append(text);
        have = true;
        if (flags & tok_end) flush();  // a whole token is processed at once (no latency)
    }
    void end() override {
        flush();
        finished();
        next->end();
    }
};

// ---- ByteLevel --------------------------------------------------------------------------------

struct byte_level_stage : frag_sink {
    frag_sink* next = nullptr;
    std::string pend;  ///< bytes not yet decoded (an incomplete UTF-8 sequence at the end)
    std::string cur;   ///< the current token's fragments
    bool have = false;
    bool emitted = false;
    std::string text;

    void emit(std::string_view t) {
        next->put(t, emitted ? 0u : tok_start);
        emitted = true;
    }
    void token_done() {
        if (!have) return;
        const auto& tb = bl_tables();
        std::size_t mark = pend.size();
        bool all = true;
        const auto* p = reinterpret_cast<const unsigned char*>(cur.data());
        for (std::size_t i = 0; i < cur.size();) {
            std::size_t len = 1;
            const char32_t c = uc::decode_utf8(p + i, cur.size() - i, len);
            if (c >= tb.to_byte.size() || tb.to_byte[c] < 0) {
                all = false;
                break;
            }
            pend += char(tb.to_byte[c]);
            i += len;
        }
        if (!all) {  // a token outside the byte alphabet contributes its own bytes
            pend.resize(mark);
            pend += cur;
        }
        cur.clear();
        have = false;
        // Decode what can no longer change: everything but an incomplete sequence at the end.
        const std::size_t keep = uc::complete_prefix(pend);
        if (keep == 0) return;
        text.clear();
        uc::append_lossy_utf8(text, std::string_view(pend).substr(0, keep));
        pend.erase(0, keep);
        emit(text);
    }
    void put(std::string_view t, unsigned flags) override {
        if (flags & tok_start) token_done();
        cur.append(t);
        have = true;
        if (flags & tok_end) token_done();
    }
    void end() override {
        token_done();
        if (!pend.empty()) {
            text.clear();
            uc::append_lossy_utf8(text, pend);
            pend.clear();
            emit(text);
        }
        if (!emitted) emit("");
        next->end();
    }
};

// ---- ByteFallback -----------------------------------------------------------------------------

struct byte_fallback_stage : whole_token_stage {
    std::string run;  ///< bytes of consecutive <0xXX> tokens
    std::size_t run_len = 0;

    static int hex_digit(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    /// u8::from_str_radix(&token[3..5], 16) on a 6-byte "<0x..>" token.
    static int byte_of(const std::string& t) {
        if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
        const char a = t[3], b = t[4];
        if (a == '+') return hex_digit(b);  // from_str_radix accepts a leading '+'
        const int x = hex_digit(a), y = hex_digit(b);
        return x < 0 || y < 0 ? -1 : x * 16 + y;
    }
    void flush_run() {
        if (run_len == 0) return;
        if (uc::valid_utf8(run)) {
            next->put(run, tok_whole);
        } else {
            for (std::size_t i = 0; i < run_len; ++i) next->put(replacement_char, tok_whole);
        }
        run.clear();
        run_len = 0;
    }
    void token(std::string& t, std::size_t) override {
        if (const int b = byte_of(t); b >= 0) {
            run += char(b);
            ++run_len;
            return;
        }
        flush_run();
        next->put(t, tok_whole);
    }
    void finished() override { flush_run(); }
};

// ---- Fuse -------------------------------------------------------------------------------------

struct fuse_stage : frag_sink {
    frag_sink* next = nullptr;
    bool emitted = false;
    void put(std::string_view t, unsigned) override {
        next->put(t, emitted ? 0u : tok_start);
        emitted = true;
    }
    void end() override {
        if (!emitted) next->put("", tok_start);
        next->end();
    }
};

// ---- Metaspace --------------------------------------------------------------------------------

struct metaspace_config {
    std::string replacement;
    bool strip_first = true;  ///< prepend_scheme != never
};

struct metaspace_stage : frag_sink {
    frag_sink* next = nullptr;
    const metaspace_config* cfg = nullptr;
    std::size_t index = 0;
    bool started = false;
    std::string out;
    void put(std::string_view t, unsigned flags) override {
        if (flags & tok_start) {
            if (started) ++index;
            started = true;
        }
        out.clear();
        const std::string& r = cfg->replacement;
        for (std::size_t i = 0; i < t.size();) {
            if (!r.empty() && t.compare(i, r.size(), r) == 0) {
                if (!(index == 0 && cfg->strip_first)) out += ' ';
                i += r.size();
            } else {
                out += t[i++];
            }
        }
        next->put(out, flags);
    }
    void end() override { next->end(); }
};

// ---- Replace ----------------------------------------------------------------------------------

struct replace_config {
    std::string literal;
    std::unique_ptr<tok_regex> re;
    std::string content;
};

struct replace_stage : whole_token_stage {
    const replace_config* cfg = nullptr;
    std::vector<std::pair<std::size_t, std::size_t>> m;
    std::string out;
    void token(std::string& t, std::size_t) override {
        out.clear();
        if (cfg->re) {
            cfg->re->find_all(t, m);
        } else {
            m.clear();
            if (!cfg->literal.empty())
                for (std::size_t pos = 0; (pos = t.find(cfg->literal, pos)) != std::string::npos;
                     pos += cfg->literal.size())
                    m.emplace_back(pos, pos + cfg->literal.size());
        }
        std::size_t prev = 0;
        for (auto [b, e] : m) {
            out.append(t, prev, b - prev);
            out += cfg->content;
            prev = e;
        }
        out.append(t, prev, std::string::npos);
        next->put(out, tok_whole);
    }
};

// ---- Strip ------------------------------------------------------------------------------------

struct strip_config {
    char32_t content = ' ';
    std::size_t start = 0, stop = 0;
};

struct strip_stage : whole_token_stage {
    const strip_config* cfg = nullptr;
    void token(std::string& t, std::size_t) override {
        std::vector<std::pair<std::size_t, char32_t>> chars;  // (byte offset, code point)
        const auto* p = reinterpret_cast<const unsigned char*>(t.data());
        for (std::size_t i = 0; i < t.size();) {
            std::size_t len = 1;
            chars.emplace_back(i, uc::decode_utf8(p + i, t.size() - i, len));
            i += len;
        }
        std::size_t start_cut = 0;
        for (std::size_t i = 0; i < cfg->start && i < chars.size(); ++i) {
            if (chars[i].second != cfg->content) break;
            start_cut = i + 1;
        }
        std::size_t stop_cut = chars.size();
        for (std::size_t i = 0; i < cfg->stop && i < chars.size(); ++i) {
            const std::size_t index = chars.size() - i - 1;
            if (chars[index].second != cfg->content) break;
            stop_cut = index;
        }
        if (stop_cut < start_cut) stop_cut = start_cut;
        const std::size_t b = start_cut < chars.size() ? chars[start_cut].first : t.size();
        const std::size_t e = stop_cut < chars.size() ? chars[stop_cut].first : t.size();
        next->put(std::string_view(t).substr(b, e - b), tok_whole);
    }
};

/// Strip with stop == 0 on a fragmented (fused) token: strips the leading characters as they
/// arrive instead of waiting for the end of the token.
struct strip_lead_stage : frag_sink {
    frag_sink* next = nullptr;
    const strip_config* cfg = nullptr;
    std::size_t seen = 0;  ///< leading characters examined in the current token
    bool stripping = true;
    void put(std::string_view t, unsigned flags) override {
        if (flags & tok_start) {
            seen = 0;
            stripping = true;
        }
        std::size_t cut = 0;
        const auto* p = reinterpret_cast<const unsigned char*>(t.data());
        while (stripping && cut < t.size()) {
            if (seen >= cfg->start) {
                stripping = false;
                break;
            }
            std::size_t len = 1;
            const char32_t c = uc::decode_utf8(p + cut, t.size() - cut, len);
            if (c != cfg->content) {
                stripping = false;
                break;
            }
            cut += len;
            ++seen;
        }
        next->put(t.substr(cut), flags);
    }
    void end() override { next->end(); }
};

// ---- WordPiece --------------------------------------------------------------------------------

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::string out;
    std::size_t prev = 0;
    for (std::size_t pos; (pos = s.find(from, prev)) != std::string::npos;
         prev = pos + from.size()) {
        out.append(s, prev, pos - prev);
        out += to;
    }
    if (prev == 0) return;
    out.append(s, prev, std::string::npos);
    s = std::move(out);
}

void wordpiece_cleanup(std::string& t) {
    replace_all(t, " .", ".");
    replace_all(t, " ?", "?");
    replace_all(t, " !", "!");
    replace_all(t, " ,", ",");
    replace_all(t, " ' ", "'");
    replace_all(t, " n't", "n't");
    replace_all(t, " 'm", "'m");
    replace_all(t, " do not", " don't");
    replace_all(t, " 's", "'s");
    replace_all(t, " 've", "'ve");
    replace_all(t, " 're", "'re");
}

struct wordpiece_config {
    std::string prefix = "##";
    bool cleanup = true;
};

struct wordpiece_stage : whole_token_stage {
    const wordpiece_config* cfg = nullptr;
    void token(std::string& t, std::size_t i) override {
        if (i != 0) {
            if (t.compare(0, cfg->prefix.size(), cfg->prefix) == 0)
                t.erase(0, cfg->prefix.size());
            else
                t.insert(0, " ");
        }
        if (cfg->cleanup) wordpiece_cleanup(t);
        next->put(t, tok_whole);
    }
};

// ---- BPEDecoder -------------------------------------------------------------------------------

struct bpe_decoder_config {
    std::string suffix = "</w>";
};

struct bpe_decoder_stage : whole_token_stage {
    const bpe_decoder_config* cfg = nullptr;
    std::string pending;
    bool has_pending = false;
    void emit_pending(std::string_view repl) {
        if (!has_pending) return;
        std::string t = pending;
        if (!cfg->suffix.empty()) replace_all(t, cfg->suffix, repl);
        next->put(t, tok_whole);
        has_pending = false;
    }
    void token(std::string& t, std::size_t) override {
        emit_pending(" ");
        pending = t;
        has_pending = true;
    }
    void finished() override { emit_pending(""); }
};

// ---- CTC --------------------------------------------------------------------------------------

struct ctc_config {
    std::string pad = "<pad>", delimiter = "|";
    bool cleanup = true;
};

struct ctc_stage : whole_token_stage {
    const ctc_config* cfg = nullptr;
    std::string prev;
    bool has_prev = false;
    void token(std::string& t, std::size_t) override {
        if (has_prev && t == prev) return;  // dedup consecutive tokens
        prev = t;
        has_prev = true;
        std::string r = t;
        replace_all(r, cfg->pad, "");
        if (cfg->cleanup) {
            wordpiece_cleanup(r);
            replace_all(r, cfg->delimiter, " ");
        }
        if (!r.empty()) next->put(r, tok_whole);
    }
};

// ---- no decoder: tokens joined by a space -----------------------------------------------------

struct join_space_stage : whole_token_stage {
    void token(std::string& t, std::size_t i) override {
        if (i != 0) t.insert(0, " ");
        next->put(t, tok_whole);
    }
};

// ---- configs ----------------------------------------------------------------------------------

template <class Stage>
Stage* add_stage(frag_sink& out, std::vector<std::unique_ptr<frag_sink>>& stages) {
    // Stages are built back to front: the new one feeds the previously first one.
    auto s = std::make_unique<Stage>();
    s->next = stages.empty() ? &out : stages.front().get();
    Stage* raw = s.get();
    stages.insert(stages.begin(), std::move(s));
    return raw;
}

struct simple_config : decoder_config {
    enum kind { byte_level, byte_fallback, fuse, join_space } k;
    explicit simple_config(kind x) : k(x) {}
    void instantiate(frag_sink& out,
                     std::vector<std::unique_ptr<frag_sink>>& stages) const override {
        switch (k) {
            case byte_level:
                add_stage<byte_level_stage>(out, stages);
                break;
            case byte_fallback:
                add_stage<byte_fallback_stage>(out, stages);
                break;
            case fuse:
                add_stage<fuse_stage>(out, stages);
                break;
            case join_space:
                add_stage<join_space_stage>(out, stages);
                break;
        }
    }
};

/// A decoder whose stage reads a configuration of type Cfg.
template <class Stage, class Cfg>
struct stage_config : decoder_config {
    Cfg cfg;
    void instantiate(frag_sink& out,
                     std::vector<std::unique_ptr<frag_sink>>& stages) const override {
        add_stage<Stage>(out, stages)->cfg = &cfg;
    }
};
using metaspace_decoder = stage_config<metaspace_stage, metaspace_config>;
using replace_decoder = stage_config<replace_stage, replace_config>;
using wordpiece_decoder = stage_config<wordpiece_stage, wordpiece_config>;
using bpe_decoder = stage_config<bpe_decoder_stage, bpe_decoder_config>;
using ctc_decoder = stage_config<ctc_stage, ctc_config>;

struct strip_decoder : decoder_config {
    strip_config cfg;
    void instantiate(frag_sink& out,
                     std::vector<std::unique_ptr<frag_sink>>& stages) const override {
        if (cfg.stop == 0)
            add_stage<strip_lead_stage>(out, stages)->cfg = &cfg;
        else
            add_stage<strip_stage>(out, stages)->cfg = &cfg;
    }
};

struct sequence_decoder : decoder_config {
    std::vector<std::unique_ptr<decoder_config>> items;
    void instantiate(frag_sink& out,
                     std::vector<std::unique_ptr<frag_sink>>& stages) const override {
        for (auto it = items.rbegin(); it != items.rend(); ++it) (*it)->instantiate(out, stages);
    }
};

std::unique_ptr<decoder_config> parse(element e, const std::filesystem::path& file) {
    const std::string type = get_string(e, "type").value_or("");
    if (type == "ByteLevel") return std::make_unique<simple_config>(simple_config::byte_level);
    if (type == "ByteFallback")
        return std::make_unique<simple_config>(simple_config::byte_fallback);
    if (type == "Fuse") return std::make_unique<simple_config>(simple_config::fuse);
    if (type == "Metaspace") {
        auto d = std::make_unique<metaspace_decoder>();
        d->cfg.replacement = get_string(e, "replacement").value_or("\xE2\x96\x81");
        std::string scheme = get_string(e, "prepend_scheme").value_or("always");
        if (auto a = get_bool(e, "add_prefix_space"); a && !*a) scheme = "never";
        d->cfg.strip_first = scheme != "never";
        return d;
    }
    if (type == "Replace") {
        auto d = std::make_unique<replace_decoder>();
        d->cfg.content = get_string(e, "content").value_or("");
        auto pat = field(e, "pattern");
        if (!pat) throw format_error(file.string() + ": Replace decoder without a pattern");
        if (auto s = get_string(*pat, "String")) {
            d->cfg.literal = *s;
        } else if (auto r = get_string(*pat, "Regex")) {
            std::string why;
            d->cfg.re = tok_regex::compile(*r, why);
            if (!d->cfg.re) unsupported(file, "Replace decoder regex '" + *r + "': " + why);
        } else {
            throw format_error(file.string() + ": Replace decoder with an unknown pattern");
        }
        return d;
    }
    if (type == "Strip") {
        auto d = std::make_unique<strip_decoder>();
        const std::string c = get_string(e, "content").value_or(" ");
        std::size_t len = 0;
        if (c.empty()) throw format_error(file.string() + ": Strip decoder with empty content");
        d->cfg.content =
            uc::decode_utf8(reinterpret_cast<const unsigned char*>(c.data()), c.size(), len);
        auto st = get_int(e, "start").value_or(0), sp = get_int(e, "stop").value_or(0);
        if (st < 0 || sp < 0)
            throw format_error(file.string() + ": Strip decoder with a negative count");
        d->cfg.start = std::size_t(st);
        d->cfg.stop = std::size_t(sp);
        return d;
    }
    if (type == "WordPiece") {
        auto d = std::make_unique<wordpiece_decoder>();
        d->cfg.prefix = get_string(e, "prefix").value_or("##");
        d->cfg.cleanup = get_bool(e, "cleanup").value_or(true);
        return d;
    }
    if (type == "BPEDecoder") {
        auto d = std::make_unique<bpe_decoder>();
        d->cfg.suffix = get_string(e, "suffix").value_or("</w>");
        return d;
    }
    if (type == "CTC") {
        auto d = std::make_unique<ctc_decoder>();
        d->cfg.pad = get_string(e, "pad_token").value_or("<pad>");
        d->cfg.delimiter = get_string(e, "word_delimiter_token").value_or("|");
        d->cfg.cleanup = get_bool(e, "cleanup").value_or(true);
        return d;
    }
    if (type == "Sequence") {
        auto d = std::make_unique<sequence_decoder>();
        simdjson::dom::array arr;
        auto items = field(e, "decoders");
        if (!items || items->get_array().get(arr))
            throw format_error(file.string() + ": Sequence decoder without \"decoders\"");
        for (auto x : arr) d->items.push_back(parse(x, file));
        return d;
    }
    unsupported(file, "decoder type '" + type +
                          "' is not supported (ByteLevel, ByteFallback, Metaspace, Replace, Fuse, "
                          "Strip, WordPiece, BPEDecoder, CTC, Sequence)");
}

}  // namespace

std::unique_ptr<decoder_config> make_decoder(const element* e, const std::filesystem::path& file) {
    if (!e) return std::make_unique<simple_config>(simple_config::join_space);
    return parse(*e, file);
}

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
