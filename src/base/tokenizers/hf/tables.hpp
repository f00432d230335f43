// SPDX-License-Identifier: Apache-2.0
/// @file Private: flat hash tables and the added-token trie of the tokenizer (open addressing,
/// no allocation on lookup).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <polyglot/core/hash.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

using core::hash_bytes;
using core::mix64;

/// Byte string → 32-bit value. insert() overwrites (as a HashMap insert does).
class string_table {
  public:
    void reserve(std::size_t n) {
        std::size_t cap = 16;
        while (cap < 2 * n + 2) cap <<= 1;
        rehash(cap);
    }
    void insert(std::string_view key, std::uint32_t value) {
        if (2 * (vals_.size() + 1) > slots_.size()) rehash(slots_.empty() ? 16 : 2 * slots_.size());
        const std::uint64_t h = hash_bytes(key.data(), key.size());
        const std::uint64_t tag = h >> 32;
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const std::uint64_t s = slots_[i];
            if (s == 0) {
                offs_.push_back(blob_.size());
                blob_.append(key);
                vals_.push_back(value);
                hashes_.push_back(h);
                slots_[i] = (tag << 32) | std::uint64_t(vals_.size());
                return;
            }
            const std::size_t e = std::size_t(s & 0xFFFFFFFFu) - 1;
            if ((s >> 32) == tag && key_of(e) == key) {
                vals_[e] = value;
                return;
            }
        }
    }
    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view key) const noexcept {
        return find(key, hash_bytes(key.data(), key.size()));
    }
    /// find() with the precomputed hash_bytes(key).
    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view key,
                                                    std::uint64_t h) const noexcept {
        if (slots_.empty()) return std::nullopt;
        const std::uint64_t tag = h >> 32;
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const std::uint64_t s = slots_[i];
            if (s == 0) return std::nullopt;
            if ((s >> 32) != tag) continue;
            const std::size_t e = std::size_t(s & 0xFFFFFFFFu) - 1;
            const std::size_t b = offs_[e];
            const std::size_t len = (e + 1 < offs_.size() ? offs_[e + 1] : blob_.size()) - b;
            if (len == key.size() && std::memcmp(blob_.data() + b, key.data(), len) == 0)
                return vals_[e];
        }
    }
    [[nodiscard]] std::size_t size() const noexcept { return vals_.size(); }
    /// Entry @p i (insertion order; overwritten entries keep their first position).
    [[nodiscard]] std::string_view key_of(std::size_t i) const noexcept {
        const std::size_t b = offs_[i], e = i + 1 < offs_.size() ? offs_[i + 1] : blob_.size();
        return {blob_.data() + b, e - b};
    }
    [[nodiscard]] std::uint32_t value_of(std::size_t i) const noexcept { return vals_[i]; }

  private:
    void rehash(std::size_t cap) {
        slots_.assign(cap, 0);
        mask_ = cap - 1;
        for (std::size_t e = 0; e < vals_.size(); ++e)
            for (std::size_t i = hashes_[e] & mask_;; i = (i + 1) & mask_)
                if (slots_[i] == 0) {
                    slots_[i] = ((hashes_[e] >> 32) << 32) | std::uint64_t(e + 1);
                    break;
                }
    }
    std::string blob_;
    std::vector<std::size_t> offs_;
    std::vector<std::uint32_t> vals_;
    std::vector<std::uint64_t> hashes_;
    std::vector<std::uint64_t> slots_;  ///< hash tag << 32 | entry + 1; 0 = empty
    std::size_t mask_ = 0;
};

/// 64-bit key → 64-bit value (key ~0 is reserved). Key and value share a slot: one cache miss
/// per lookup in the large merge tables.
class u64_table {
  public:
    void reserve(std::size_t n) {
        std::size_t cap = 16;
        while (cap < 2 * n + 2) cap <<= 1;
        rehash(cap);
    }
    /// Inserts or overwrites.
    void insert(std::uint64_t key, std::uint64_t value) {
        if (2 * (count_ + 1) > slots_.size()) rehash(slots_.empty() ? 16 : 2 * slots_.size());
        for (std::size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
            slot& s = slots_[i];
            if (s.key == empty) {
                s = {key, value};
                ++count_;
                return;
            }
            if (s.key == key) {
                s.value = value;
                return;
            }
        }
    }
    [[nodiscard]] const std::uint64_t* find(std::uint64_t key) const noexcept {
        if (slots_.empty()) return nullptr;
        for (std::size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
            const slot& s = slots_[i];
            if (s.key == key) return &s.value;
            if (s.key == empty) return nullptr;
        }
    }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }

  private:
    static constexpr std::uint64_t empty = ~std::uint64_t{0};
    struct slot {
        std::uint64_t key = empty, value = 0;
    };
    void rehash(std::size_t cap) {
        std::vector<slot> n(cap);
        const std::size_t m = cap - 1;
        for (const slot& s : slots_)
            if (s.key != empty)
                for (std::size_t i = mix64(s.key) & m;; i = (i + 1) & m)
                    if (n[i].key == empty) {
                        n[i] = s;
                        break;
                    }
        slots_.swap(n);
        mask_ = m;
    }
    std::vector<slot> slots_;
    std::size_t mask_ = 0, count_ = 0;
};

/// A byte trie: longest match at a position (added tokens), and the successive prefixes at a
/// position (Unigram pieces).
class byte_trie {
  public:
    byte_trie() { nodes_.push_back(-1); }
    /// Adds @p key with @p value (>= 0); an existing key keeps its first value unless
    /// @p overwrite.
    void insert(std::string_view key, std::int64_t value, bool overwrite) {
        std::uint32_t n = 0;
        for (unsigned char c : key) {
            const std::uint64_t k = (std::uint64_t(n) << 8) | c;
            if (const std::uint64_t* nx = next_.find(k)) {
                n = std::uint32_t(*nx);
            } else {
                nodes_.push_back(-1);
                const auto child = std::uint32_t(nodes_.size() - 1);
                next_.insert(k, child);
                n = child;
            }
        }
        if (nodes_[n] < 0 || overwrite) nodes_[n] = value;
        first_[static_cast<unsigned char>(key.empty() ? 0 : key[0])] = true;
        if (key.size() > max_len_) max_len_ = key.size();
    }
    [[nodiscard]] bool empty() const noexcept { return nodes_.size() == 1; }
    [[nodiscard]] bool may_start(unsigned char c) const noexcept { return first_[c]; }
    /// Longest key starting at s[i]: (end, value), or value -1.
    [[nodiscard]] std::pair<std::size_t, std::int64_t> longest(std::string_view s,
                                                               std::size_t i) const noexcept {
        std::uint32_t n = 0;
        std::pair<std::size_t, std::int64_t> best{i, -1};
        for (std::size_t j = i; j < s.size(); ++j) {
            const std::uint64_t* nx =
                next_.find((std::uint64_t(n) << 8) | static_cast<unsigned char>(s[j]));
            if (!nx) break;
            n = std::uint32_t(*nx);
            if (nodes_[n] >= 0) best = {j + 1, nodes_[n]};
        }
        return best;
    }
    /// Calls f(end, value) for every key that is a prefix of s[i..), shortest first.
    template <class F>
    void prefixes(std::string_view s, std::size_t i, F&& f) const {
        std::uint32_t n = 0;
        for (std::size_t j = i; j < s.size(); ++j) {
            const std::uint64_t* nx =
                next_.find((std::uint64_t(n) << 8) | static_cast<unsigned char>(s[j]));
            if (!nx) return;
            n = std::uint32_t(*nx);
            if (nodes_[n] >= 0) f(j + 1, nodes_[n]);
        }
    }

  private:
    std::vector<std::int64_t> nodes_;  ///< value per node, -1 = none
    u64_table next_;                   ///< (node << 8 | byte) → child
    bool first_[256] = {};
    std::size_t max_len_ = 0;
};

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
