// SPDX-License-Identifier: Apache-2.0
/// @file GENERATE's continuous-batching scheduler (lm_runtime::generate): which sequences run
/// in the next forward pass and how many of their tokens, over a KV-cache pool
/// (runtime/kv_pool.hpp) — admission, batching of prefill chunks and decode steps, preemption
/// when the pool runs short, retirement. It only does the bookkeeping of token counts and KV
/// blocks; the tokens, sampling and stopping stay with the caller.
///
/// Policy: sequences wait in the order they were added; each pass carries at most pass_tokens
/// tokens — first one token of every decoding sequence, then prefill chunks of running
/// sequences (in admission order), then newly admitted ones — and at most max_running
/// sequences run at once. A sequence is admitted when the pool has blocks for its first chunk;
/// when a running sequence needs a block and none is free, the most recently admitted one not
/// yet in the pass is preempted (its blocks freed, its tokens recomputed later).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <polyglot/version.hpp>
#include <span>
#include <vector>

#include "common/runtime/kv_pool.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

/// One sequence of a planned pass: its tokens [begin, begin + chunk) go to the device.
struct pass_item {
    std::size_t seq = 0;  ///< the scheduler's id of the sequence
    std::size_t begin = 0;
    std::size_t chunk = 0;
};

class scheduler {
  public:
    scheduler(kv_pool& pool, std::size_t pass_tokens, std::size_t max_running)
        : pool_(pool), pass_tokens_(pass_tokens), max_running_(max_running) {}

    /// A sequence of @p length tokens joins the waiting queue; returns its id (0, 1, ...).
    std::size_t add(std::size_t length);
    /// Nothing waits and nothing runs.
    [[nodiscard]] bool idle() const noexcept { return waiting_.empty() && running_.empty(); }
    /// Plans the next pass (see the file comment). Throws std::logic_error when nothing can run.
    const std::vector<pass_item>& next_pass();
    /// The KV blocks of sequence @p k (valid until the next call that changes the plan).
    [[nodiscard]] std::span<const std::uint32_t> blocks(std::size_t k) const noexcept {
        return seqs_[k].blocks;
    }
    /// The planned pass ran: its tokens are in the cache.
    void completed();
    /// Sequence @p k now has @p length tokens (its prompt and what it generated so far).
    void set_length(std::size_t k, std::size_t length) { seqs_[k].length = length; }
    /// Sequence @p k is finished: its blocks go back to the pool and it leaves the running set.
    void retire(std::size_t k);
    /// Frees every block still held (the end of a call, cancelled or not).
    void release_all();

  private:
    struct entry {
        std::size_t length = 0;  // tokens so far (prompt, then generated)
        std::size_t cached = 0;  // tokens in the KV blocks
        std::vector<std::uint32_t> blocks;
    };
    [[nodiscard]] bool is_running(std::size_t k) const;
    void preempt(std::size_t k);
    void schedule_running(std::size_t& budget);
    void admit_waiting(std::size_t& budget);

    kv_pool& pool_;
    std::size_t pass_tokens_, max_running_;
    std::vector<entry> seqs_;
    std::deque<std::size_t> waiting_;
    std::vector<std::size_t> running_;  // admission order
    std::vector<pass_item> pass_;
};

}  // namespace runtime
POLYGLOT_END_NAMESPACE
