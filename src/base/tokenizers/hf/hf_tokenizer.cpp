// SPDX-License-Identifier: Apache-2.0
// The `tokenizers` pipeline, hand-written because no Debian package provides it. Each component
// reproduces the Rust library (0.23) closely enough that ids equal its ids on real vocabularies;
// the comments name the places where its behaviour is surprising and we follow it anyway.
//
// Speed: added tokens are found with one trie walk per candidate byte; the pre-tokenizer
// regexes run on our own matcher (regex.hpp) over Unicode 16 tables; byte-level BPE
// works on raw bytes (the vocabulary is re-keyed at load, so the byte → printable-character
// mapping is never materialised); BPE and Unigram results are kept in a per-thread word cache.
//
// Layout, as the `tokenizers` crate's: normalizers.cpp, pre_tokenizers.cpp, models/ (bpe,
// unigram, wordpiece, wordlevel), processors.cpp, decoders.cpp, added_vocabulary.cpp, and the
// tokenizer.json loader (loader.cpp). This file: the public API, encoding and decoding.
#include "base/tokenizers/hf/hf_tokenizer.hpp"

#include <string>

#include "base/tokenizers/hf/tokenizer_impl.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

using detail::piece;
using detail::scratch;
using detail::segment;
using detail::tls_scratch;
namespace uc = unicode;

void hf_tokenizer::impl::encode_text(std::string_view s, bool at_start, scratch& sc,
                                     std::vector<token_id>& out) const {
    // Pre-tokenize a copy in the arena, then the model per piece.
    sc.arena.assign(s.data(), s.size());
    sc.pieces.clear();
    sc.pieces.push_back({0, s.size(), at_start});
    if (pre) pre->apply(sc, sc.pieces);
    for (const piece& p : sc.pieces)
        model->tokenize(std::string_view(sc.arena.data() + p.off, p.len), out, sc);
}

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

}  // namespace model
POLYGLOT_END_NAMESPACE
