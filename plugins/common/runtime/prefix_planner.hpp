// SPDX-License-Identifier: Apache-2.0
/// @file SCORE_IDS's pass planner over a KV-cache pool (lm_runtime::score_ids): sequences that
/// share a prefix compute it once, and the passes are planned so that a sequence reusing
/// another's blocks runs only once they hold the shared tokens.
///
/// Prefix reuse: a sequence takes the longest run of whole blocks that an earlier sequence of
/// the call has with the same ids (its owner), up to the row before its first scored position.
/// Scheduling: sequences wait in input order; each pass carries at most pass_tokens tokens —
/// chunks of running sequences first, then newly admitted ones — and at most max_running
/// sequences. A sequence is admitted when the pool has blocks for all of its own tokens (so no
/// preemption is ever needed) and, for a dependent, once its owner has computed the shared
/// blocks; the first that does not fit in memory stops admission. A finished sequence keeps its
/// blocks until its last dependent took them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <polyglot/version.hpp>
#include <span>
#include <vector>

#include "common/runtime/device.hpp"
#include "common/runtime/kv_pool.hpp"
#include "common/runtime/scheduler.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

class prefix_planner {
  public:
    prefix_planner(kv_pool& pool, std::size_t pass_tokens, std::size_t max_running)
        : pool_(pool), pass_tokens_(pass_tokens), max_running_(max_running) {}

    /// A sequence of @p ids (kept by reference: they must outlive the planner) scored from
    /// position @p first (>= 1); returns its id (0, 1, ...).
    std::size_t add(std::span<const token_id> ids, std::size_t first);
    /// Finds the prefix each sequence reuses (call once, after the last add). Throws
    /// argument_error when a sequence needs more blocks than the pool holds.
    void share_prefixes();
    /// Nothing waits and nothing runs.
    [[nodiscard]] bool idle() const noexcept { return waiting_.empty() && running_.empty(); }
    /// Plans the next pass. Empty when nothing could be admitted: finished owners held blocks
    /// for dependents that do not fit, and sharing was given up for those (call again). Throws
    /// std::logic_error when nothing can ever run.
    const std::vector<pass_item>& next_pass();
    /// The KV blocks of sequence @p k (valid until the next call that changes the plan).
    [[nodiscard]] std::span<const std::uint32_t> blocks(std::size_t k) const noexcept {
        return seqs_[k].blocks;
    }
    /// The planned pass ran; returns how many sequences it finished.
    std::size_t completed();
    /// Frees every block still held (the end of a call, cancelled or not).
    void release_all();

  private:
    struct entry {
        std::span<const token_id> ids;
        std::size_t first = 0;  // first scored position
        std::size_t cached = 0;
        std::vector<std::uint32_t> blocks;
        std::ptrdiff_t owner = -1;  // a sequence whose first `shared` tokens' blocks this one uses
        std::size_t shared = 0;
        std::size_t dependents = 0;  // sequences still to take this one's blocks
        bool done = false, admitted = false;
    };
    void finish_owner_blocks(entry& q);
    void admit_waiting(std::size_t& budget);
    void give_up_sharing();

    kv_pool& pool_;
    std::size_t pass_tokens_, max_running_;
    std::vector<entry> seqs_;
    std::deque<std::size_t> waiting_;
    std::vector<std::size_t> running_;
    std::vector<pass_item> pass_;
};

}  // namespace runtime
POLYGLOT_END_NAMESPACE
