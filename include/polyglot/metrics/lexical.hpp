// SPDX-License-Identifier: Apache-2.0
/// @file Lexical diversity (product.md §3 `lexical`): distinct-1 and distinct-2 over token ids,
/// i.e. unique n-grams / total n-grams over the whole set (n-grams never cross records), for
/// prompts and responses. The unique sets grow with the vocabulary actually used (inherent to
/// the definition); they are compact open-addressing sets of 64-bit keys.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <polyglot/core/assert.hpp>
#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/metrics/metric.hpp>
#include <polyglot/metrics/token_memo.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

/// A set of 64-bit keys: open addressing, linear probing, load factor <= 1/2, 8 bytes a slot.
/// Hand-written because Debian's Boost (1.74) predates boost::unordered_flat_set and
/// std::unordered_set costs ~5x the memory (a node per key).
class u64_set {
  public:
    /// Inserts @p k; returns true if it was new.
    bool insert(std::uint64_t k) {
        if (k == empty_) {
            const bool fresh = !has_empty_key_;
            has_empty_key_ = true;
            return fresh;
        }
        if ((used_ + 1) * 2 > slots_.size()) grow();
        return insert_slot(k);
    }
    [[nodiscard]] std::size_t size() const noexcept { return used_ + (has_empty_key_ ? 1 : 0); }
    void merge(const u64_set& o) {
        if (o.has_empty_key_) has_empty_key_ = true;
        for (std::uint64_t k : o.slots_)
            if (k != empty_) insert(k);
    }
    /// Makes room for @p n keys without rehashing.
    void reserve(std::size_t n) {
        std::size_t want = 16;
        while (want < 2 * n + 2) want *= 2;
        if (want <= slots_.size()) return;
        std::vector<std::uint64_t> old(want, empty_);
        old.swap(slots_);
        used_ = 0;
        for (std::uint64_t k : old)
            if (k != empty_) insert_slot(k);
    }
    /// The keys in increasing order, as deltas (varints): the same set always saves to the
    /// same bytes, whatever order the keys were inserted in.
    void save(io::binary_writer& w) const {
        std::vector<std::uint64_t> keys;
        keys.reserve(size());
        for_each([&](std::uint64_t k) { keys.push_back(k); });
        std::sort(keys.begin(), keys.end());
        w.varint(keys.size());
        std::uint64_t prev = 0;
        for (std::uint64_t k : keys) {
            w.varint(k - prev);
            prev = k;
        }
    }
    void load(io::binary_reader& r) {
        *this = u64_set();
        const std::uint64_t n = r.count(1, "set size");
        reserve(static_cast<std::size_t>(n));
        std::uint64_t k = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t delta = r.varint("set key");
            if (i > 0 && delta == 0) r.fail("set key");
            k += delta;
            insert(k);
        }
    }
    template <class F>
    void for_each(F&& f) const {
        if (has_empty_key_) f(empty_);
        for (std::uint64_t k : slots_)
            if (k != empty_) f(k);
    }

  private:
    static constexpr std::uint64_t empty_ = std::numeric_limits<std::uint64_t>::max();
    static std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    }
    bool insert_slot(std::uint64_t k) {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = mix(k) & mask;; i = (i + 1) & mask) {
            if (slots_[i] == k) return false;
            if (slots_[i] == empty_) {
                slots_[i] = k;
                ++used_;
                return true;
            }
        }
    }
    void grow() {
        std::vector<std::uint64_t> old(slots_.empty() ? 16 : slots_.size() * 2, empty_);
        old.swap(slots_);
        used_ = 0;
        for (std::uint64_t k : old)
            if (k != empty_) insert_slot(k);
    }

    std::vector<std::uint64_t> slots_;
    std::size_t used_ = 0;
    bool has_empty_key_ = false;
};

class lexical_metric {
  public:
    static constexpr std::string_view name = "lexical";

    struct side {
        u64_set unigrams, bigrams;
        std::uint64_t total_unigrams = 0, total_bigrams = 0;
    };
    struct state {
        side prompts, responses;
    };

    explicit lexical_metric(std::shared_ptr<const text::tokenizer> tok)
        : tok_(std::move(tok)), tokenizer_name_(tok_ ? tok_->name() : std::string()) {}
    /// Merge/load/finalize only (polyglot merge): the tokenizer known by name.
    static lexical_metric named(std::string tokenizer_name) {
        lexical_metric m(nullptr);
        m.tokenizer_name_ = std::move(tokenizer_name);
        return m;
    }

    [[nodiscard]] state make_state() const { return {}; }

    void accumulate(state& s, const record& r, instance_values&) const {
        POLYGLOT_ASSERT(tok_);
        add_ids(s.prompts, encode_memo(*tok_, r.prompt));
        add_ids(s.responses, encode_memo(*tok_, r.response));
    }

    /// Adds one text's token ids (exposed for tests and other tokenizations).
    static void add_ids(side& sd, const std::vector<text::token_id>& ids) {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            sd.unigrams.insert(ids[i]);
            if (i > 0) sd.bigrams.insert((std::uint64_t{ids[i - 1]} << 32) | ids[i]);
        }
        sd.total_unigrams += ids.size();
        if (!ids.empty()) sd.total_bigrams += ids.size() - 1;
    }

    void merge(state& a, const state& b) const {
        merge_side(a.prompts, b.prompts);
        merge_side(a.responses, b.responses);
    }

    void finalize(const state& s, io::json_writer& w) const {
        w.kv("prompts_distinct_1", ratio(s.prompts.unigrams.size(), s.prompts.total_unigrams));
        w.kv("prompts_distinct_2", ratio(s.prompts.bigrams.size(), s.prompts.total_bigrams));
        w.kv("responses_distinct_1",
             ratio(s.responses.unigrams.size(), s.responses.total_unigrams));
        w.kv("responses_distinct_2", ratio(s.responses.bigrams.size(), s.responses.total_bigrams));
        w.kv("prompts_unique_unigrams", s.prompts.unigrams.size());
        w.kv("prompts_unique_bigrams", s.prompts.bigrams.size());
        w.kv("responses_unique_unigrams", s.responses.unigrams.size());
        w.kv("responses_unique_bigrams", s.responses.bigrams.size());
        w.kv("tokenizer", tokenizer_name_);
    }

    void save(const state& s, io::binary_writer& w) const {
        for (const side* sd : {&s.prompts, &s.responses}) {
            w.varint(sd->total_unigrams);
            w.varint(sd->total_bigrams);
            sd->unigrams.save(w);
            sd->bigrams.save(w);
        }
    }

    void load(state& s, io::binary_reader& r) const {
        for (side* sd : {&s.prompts, &s.responses}) {
            sd->total_unigrams = r.varint("lexical total");
            sd->total_bigrams = r.varint("lexical total");
            sd->unigrams.load(r);
            sd->bigrams.load(r);
        }
    }

    /// unique / total, NaN when total is 0.
    static double ratio(std::size_t unique, std::uint64_t total) {
        return total ? static_cast<double>(unique) / static_cast<double>(total)
                     : std::numeric_limits<double>::quiet_NaN();
    }

  private:
    static void merge_side(side& a, const side& b) {
        a.unigrams.merge(b.unigrams);
        a.bigrams.merge(b.bigrams);
        a.total_unigrams += b.total_unigrams;
        a.total_bigrams += b.total_bigrams;
    }

    std::shared_ptr<const text::tokenizer> tok_;
    std::string tokenizer_name_;
};

static_assert(metric<lexical_metric>);

}  // namespace metrics
POLYGLOT_END_NAMESPACE
