// SPDX-License-Identifier: Apache-2.0
// The Unigram model (SentencePiece's Viterbi over a trie of pieces) (see unigram.hpp).
#include "base/tokenizers/hf/models/unigram.hpp"

#include <cmath>
#include <cstdio>
#include <polyglot/core/error.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

void unigram_model::encode_word(std::string_view s, std::vector<token_id>& out) const {
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

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
