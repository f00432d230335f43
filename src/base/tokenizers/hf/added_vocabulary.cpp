// SPDX-License-Identifier: Apache-2.0
// The added vocabulary (see added_vocabulary.hpp): reading "added_tokens", and finding added
// tokens in a text as AddedVocabulary::find_matches does.
#include "base/tokenizers/hf/added_vocabulary.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/tokenizer_impl.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

namespace detail {

// Added tokens, numbered as AddedVocabulary::add_tokens numbers them: a content already in
// the vocabulary keeps that id, a new one takes the next id after the model's.
void read_added_tokens(element at, const json_document& doc, hf_tokenizer::impl& m) {
    simdjson::dom::array arr;
    if (at.get_array().get(arr)) doc.fail("added_tokens is not an array");
    std::uint64_t next_id = m.model->vocab_len();
    u64_table index_of_id;  // id → index in m.added
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
        std::optional<token_id> existing = m.added_by_content.find(a.content);
        if (!existing) existing = m.model->token_to_id(a.content);
        if (existing) {
            a.id = *existing;
        } else {
            if (next_id > max_token_id) doc.fail("too many added tokens");
            a.id = token_id(next_id++);
        }
        m.added_by_content.insert(a.content, a.id);
        // added_tokens_map_r: one token per id, the last one wins.
        if (const std::uint64_t* at_index = index_of_id.find(a.id)) {
            added_token& old = m.added[std::size_t(*at_index)];
            const bool was_special = old.special;
            old = a;
            old.special = old.special || was_special;  // special_tokens_set keeps it
        } else {
            index_of_id.insert(a.id, m.added.size());
            m.added.push_back(std::move(a));
        }
    }
}

std::vector<std::string> index_added_tokens(hf_tokenizer::impl& m) {
    // Normalized forms of the normalized added tokens (the `normalized_cache`).
    std::vector<std::string> patterns(m.added.size());
    for (std::size_t i = 0; i < m.added.size(); ++i) {
        patterns[i] = m.added[i].content;
        if (m.added[i].normalized && m.norm) {
            std::string tmp;
            m.norm->apply(patterns[i], tmp);
        }
        if (patterns[i].empty()) continue;
        (m.added[i].normalized ? m.norm_trie : m.raw_trie)
            .insert(patterns[i], std::int64_t(i), false);
    }

    return patterns;
}

}  // namespace detail

using detail::cp_at;
using detail::prev_cp;
using detail::segment;
namespace uc = unicode;

void hf_tokenizer::impl::find_added(std::string_view s, const detail::byte_trie& trie,
                                    bool parse_special, std::vector<segment>& out) const {
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
        const detail::added_token& t = added[std::size_t(idx)];
        if (!parse_special && t.special) continue;
        std::size_t start = mstart, stop = mend;
        if (t.single_word) {
            std::size_t len;
            const bool start_space = start == 0 || !uc::is_word(cp_at(s, prev_cp(s, start), len));
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

}  // namespace model
POLYGLOT_END_NAMESPACE
