// SPDX-License-Identifier: Apache-2.0
/// @file KV-cache bookkeeping: a pool of fixed-size blocks (the device holds their contents),
/// reference-counted so that sequences sharing a prefix share its blocks. Memory is bounded by
/// the pool's token budget, never by the number of sequences.
#pragma once

#include <cassert>
#include <cstdint>
#include <polyglot/version.hpp>
#include <span>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

class kv_pool {
  public:
    void reset(std::size_t blocks, std::size_t block_tokens) {
        block_tokens_ = block_tokens;
        refs_.assign(blocks, 0);
        free_.clear();
        for (std::size_t b = blocks; b-- > 0;) free_.push_back(std::uint32_t(b));
    }
    [[nodiscard]] std::size_t block_tokens() const noexcept { return block_tokens_; }
    [[nodiscard]] std::size_t total_blocks() const noexcept { return refs_.size(); }
    [[nodiscard]] std::size_t free_blocks() const noexcept { return free_.size(); }
    [[nodiscard]] std::size_t capacity_tokens() const noexcept {
        return refs_.size() * block_tokens_;
    }
    /// Blocks needed to hold @p tokens tokens.
    [[nodiscard]] std::size_t blocks_for(std::size_t tokens) const noexcept {
        return block_tokens_ ? (tokens + block_tokens_ - 1) / block_tokens_ : 0;
    }
    /// Grows @p table to cover @p tokens tokens; false (nothing taken) when the pool is short.
    bool grow(std::vector<std::uint32_t>& table, std::size_t tokens) {
        const std::size_t need = blocks_for(tokens);
        if (need <= table.size()) return true;
        if (need - table.size() > free_.size()) return false;
        while (table.size() < need) {
            const std::uint32_t b = free_.back();
            free_.pop_back();
            refs_[b] = 1;
            table.push_back(b);
        }
        return true;
    }
    void retain(std::span<const std::uint32_t> blocks) {
        for (auto b : blocks) ++refs_[b];
    }
    void release(std::span<const std::uint32_t> blocks) {
        for (auto b : blocks) {
            assert(refs_[b] > 0);
            if (--refs_[b] == 0) free_.push_back(b);
        }
    }
    /// Releases and clears @p table.
    void drop(std::vector<std::uint32_t>& table) {
        release(table);
        table.clear();
    }

  private:
    std::size_t block_tokens_ = 0;
    std::vector<std::uint32_t> refs_;
    std::vector<std::uint32_t> free_;
};

}  // namespace runtime
POLYGLOT_END_NAMESPACE
