// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/prefix_planner.hpp"

#include <algorithm>
#include <polyglot/core/error.hpp>
#include <stdexcept>
#include <unordered_map>

#include "common/runtime/sampler.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

std::size_t prefix_planner::add(std::span<const token_id> ids, std::size_t first) {
    entry q;
    q.ids = ids;
    q.first = first;
    seqs_.push_back(std::move(q));
    waiting_.push_back(seqs_.size() - 1);
    return seqs_.size() - 1;
}

void prefix_planner::share_prefixes() {
    const std::size_t B = pool_.block_tokens();
    std::unordered_map<std::uint64_t, std::size_t> seen;  // hash of k blocks → sequence
    for (std::size_t k = 0; k < seqs_.size(); ++k) {
        entry& q = seqs_[k];
        const std::size_t usable = std::min(q.first - 1, q.ids.size() - 1) / B;
        std::uint64_t h = 0x243F6A8885A308D3ull;
        std::size_t best = 0;
        std::ptrdiff_t owner = -1;
        const std::size_t full = q.ids.size() / B;
        for (std::size_t b = 0; b < full; ++b) {
            for (std::size_t t = b * B; t < (b + 1) * B; ++t)
                h = splitmix64::mix(h ^ (q.ids[t] + splitmix64::golden));
            if (b < usable) {
                auto it = seen.find(h);
                if (it != seen.end() &&
                    std::equal(q.ids.begin(), q.ids.begin() + std::ptrdiff_t((b + 1) * B),
                               seqs_[it->second].ids.begin())) {
                    best = b + 1;
                    owner = std::ptrdiff_t(it->second);
                }
            }
            seen.try_emplace(h, k);
        }
        if (owner >= 0) {
            q.owner = owner;
            q.shared = best * B;
            ++seqs_[std::size_t(owner)].dependents;
        }
    }
    for (auto& q : seqs_)
        if (pool_.blocks_for(q.ids.size()) > pool_.total_blocks()) {
            // Cannot happen while max_context() <= the pool's capacity; kept as a guard.
            throw argument_error("score_ids: a sequence needs more KV cache than the budget");
        }
}

void prefix_planner::finish_owner_blocks(entry& q) {
    if (q.done && q.dependents == 0) pool_.drop(q.blocks);
}

/// Admits waiting sequences (input order; a dependent waits until its owner has computed the
/// shared blocks; the first that does not fit in memory stops admission).
void prefix_planner::admit_waiting(std::size_t& budget) {
    const std::size_t B = pool_.block_tokens();
    for (auto it = waiting_.begin();
         it != waiting_.end() && budget > 0 && running_.size() < max_running_;) {
        entry& q = seqs_[*it];
        if (q.owner >= 0) {
            entry& o = seqs_[std::size_t(q.owner)];
            if (!o.admitted || o.cached < q.shared) {
                ++it;
                continue;
            }
        }
        const std::size_t own = pool_.blocks_for(q.ids.size()) - q.shared / B;
        if (own > pool_.free_blocks()) break;
        if (q.owner >= 0) {
            entry& o = seqs_[std::size_t(q.owner)];
            q.blocks.assign(o.blocks.begin(), o.blocks.begin() + std::ptrdiff_t(q.shared / B));
            pool_.retain(q.blocks);
            q.cached = q.shared;
            --o.dependents;
            finish_owner_blocks(o);
        }
        pool_.grow(q.blocks, q.ids.size());
        q.admitted = true;
        const std::size_t c = std::min(q.ids.size() - q.cached, budget);
        running_.push_back(*it);
        pass_.push_back({*it, q.cached, c});
        budget -= c;
        it = waiting_.erase(it);
    }
}

/// Nothing fits: finished owners hold blocks for dependents that cannot be admitted. Give up
/// sharing for those and recompute their prefixes.
void prefix_planner::give_up_sharing() {
    bool freed = false;
    for (auto& q : seqs_)
        if (q.done && q.dependents > 0) {
            q.dependents = 0;
            finish_owner_blocks(q);
            freed = true;
        }
    for (std::size_t k : waiting_)
        if (seqs_[k].owner >= 0 && seqs_[std::size_t(seqs_[k].owner)].done &&
            seqs_[std::size_t(seqs_[k].owner)].blocks.empty())
            seqs_[k].owner = -1, seqs_[k].shared = 0;
    if (!freed) throw std::logic_error("score_ids: scheduler made no progress");
}

const std::vector<pass_item>& prefix_planner::next_pass() {
    std::size_t budget = pass_tokens_;
    pass_.clear();
    for (std::size_t k : running_) {
        if (budget == 0) break;
        const std::size_t c = std::min(seqs_[k].ids.size() - seqs_[k].cached, budget);
        pass_.push_back({k, seqs_[k].cached, c});
        budget -= c;
    }
    admit_waiting(budget);
    if (pass_.empty()) give_up_sharing();
    return pass_;
}

std::size_t prefix_planner::completed() {
    std::size_t finished = 0;
    for (const auto& it : pass_) {
        entry& q = seqs_[it.seq];
        q.cached += it.chunk;
        if (q.cached == q.ids.size()) {
            q.done = true;
            ++finished;
            finish_owner_blocks(q);
        }
    }
    std::erase_if(running_, [&](std::size_t k) { return seqs_[k].done; });
    return finished;
}

void prefix_planner::release_all() {
    for (auto& q : seqs_) pool_.drop(q.blocks);
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
