// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/scheduler.hpp"

#include <algorithm>
#include <stdexcept>

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

std::size_t scheduler::add(std::size_t length) {
    seqs_.push_back(entry{length, 0, {}});
    waiting_.push_back(seqs_.size() - 1);
    return seqs_.size() - 1;
}

bool scheduler::is_running(std::size_t k) const {
    return std::find(running_.begin(), running_.end(), k) != running_.end();
}

void scheduler::preempt(std::size_t k) {
    entry& q = seqs_[k];
    pool_.drop(q.blocks);
    q.cached = 0;
    std::erase(running_, k);
    waiting_.push_front(k);
}

/// Decoding sequences first (one token each), then prefill chunks, in admission order.
void scheduler::schedule_running(std::size_t& budget) {
    std::vector<std::size_t> order;
    for (std::size_t k : running_)
        if (seqs_[k].length - seqs_[k].cached == 1) order.push_back(k);
    for (std::size_t k : running_)
        if (seqs_[k].length - seqs_[k].cached > 1) order.push_back(k);
    auto in_pass = [&](std::size_t k) {
        return std::any_of(pass_.begin(), pass_.end(),
                           [&](const pass_item& it) { return it.seq == k; });
    };
    for (std::size_t k : order) {
        if (budget == 0) break;
        if (!is_running(k)) continue;  // preempted earlier in this loop
        entry& q = seqs_[k];
        const std::size_t c = std::min(q.length - q.cached, budget);
        // Blocks for the chunk; when the pool is short, preempt the most recently admitted
        // sequence that is not in this pass yet (possibly q itself).
        while (!pool_.grow(q.blocks, q.cached + c)) {
            std::size_t victim = k;
            for (auto it = running_.rbegin(); it != running_.rend(); ++it)
                if (!in_pass(*it)) {
                    victim = *it;
                    break;
                }
            preempt(victim);
            if (victim == k) break;
        }
        if (!is_running(k)) continue;
        pass_.push_back({k, q.cached, c});
        budget -= c;
    }
}

void scheduler::admit_waiting(std::size_t& budget) {
    while (budget > 0 && !waiting_.empty() && running_.size() < max_running_) {
        const std::size_t k = waiting_.front();
        entry& q = seqs_[k];
        const std::size_t c = std::min(q.length - q.cached, budget);
        if (!pool_.grow(q.blocks, q.cached + c)) break;
        waiting_.pop_front();
        running_.push_back(k);
        pass_.push_back({k, q.cached, c});
        budget -= c;
    }
}

const std::vector<pass_item>& scheduler::next_pass() {
    std::size_t budget = pass_tokens_;
    pass_.clear();
    schedule_running(budget);
    admit_waiting(budget);
    if (pass_.empty()) throw std::logic_error("generate: scheduler made no progress");
    return pass_;
}

void scheduler::completed() {
    for (const auto& it : pass_) seqs_[it.seq].cached += it.chunk;
}

void scheduler::retire(std::size_t k) {
    pool_.drop(seqs_[k].blocks);
    std::erase(running_, k);
}

void scheduler::release_all() {
    for (auto& q : seqs_) pool_.drop(q.blocks);
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
