// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: what the four models (models/bpe, unigram,
/// wordpiece, wordlevel) share — the model interface with its per-thread word cache, and the
/// reading of a {"token": id} vocabulary.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/pipeline.hpp"
#include "base/tokenizers/hf/tables.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

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
                       std::size_t& id_bound);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
