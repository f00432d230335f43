// SPDX-License-Identifier: Apache-2.0
// The BPE model (byte-level or not, with byte fallback, unk fusing, continuing-subword prefix and
// end-of-word suffix, ignore_merges) (see bpe.hpp).
#include "base/tokenizers/hf/models/bpe.hpp"

#include <algorithm>
#include <cstring>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

void bpe_model::add_char(std::vector<bpe_sym>& syms, std::string_view s, std::size_t byte_len,
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

std::size_t bpe_model::merge_ids(token_id* id, std::size_t n, const unsigned char* bytes) const {
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

void bpe_model::merge_word(std::string_view w, std::vector<token_id>& out, scratch& sc) const {
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

void bpe_model::merge_small(scratch& sc) const {
    auto& syms = sc.syms;
    token_id id[small_word];
    for (std::size_t k = 0; k < syms.size(); ++k) id[k] = syms[k].id;
    const std::size_t n = merge_ids(id, syms.size(), nullptr);
    syms.resize(n);
    for (std::size_t k = 0; k < n; ++k) syms[k] = {id[k], true, 0, 0};
}

void bpe_model::merge_all(scratch& sc) const {
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
                heap.push_back({std::uint32_t(*pm >> 32), token_id(*pm), std::uint64_t(s.prev)});
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

void bpe_model::tokenize_part(std::string_view w, std::vector<token_id>& out, scratch& sc,
                              bool whole_word) const {
    // (With ignore_merges a part must not share cache entries with a whole word.)
    if (!whole_word && ignore_merges) return merge_word(w, out, sc);
    cached(w, out, sc, [&](std::vector<token_id>& o) {
        if (whole_word && ignore_merges)
            if (auto id = raw ? raw_vocab.find(w) : vocab.find(w)) return o.push_back(*id);
        merge_word(w, o, sc);
    });
}

void bpe_model::tokenize(std::string_view w, std::vector<token_id>& out, scratch& sc) const {
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

void bpe_model::enable_raw() {
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

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
