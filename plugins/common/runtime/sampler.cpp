// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

void sampler::observe(std::span<const token_id> ids) {
    if (p_.repetition_penalty == 1.0f) return;
    seen_.insert(seen_.end(), ids.begin(), ids.end());
    std::sort(seen_.begin(), seen_.end());
    seen_.erase(std::unique(seen_.begin(), seen_.end()), seen_.end());
}

void sampler::observe(token_id id) {
    if (p_.repetition_penalty == 1.0f) return;
    auto it = std::lower_bound(seen_.begin(), seen_.end(), id);
    if (it == seen_.end() || *it != id) seen_.insert(it, id);
}

token_id sampler::sample(std::span<const float> logits) {
    const std::size_t V = logits.size();
    // Repetition penalty (transformers / vLLM rule): divide positive logits, multiply negative.
    if (p_.repetition_penalty != 1.0f) {
        penalized_.assign(logits.begin(), logits.end());
        for (token_id id : seen_)
            if (id < V) {
                float& l = penalized_[id];
                l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
            }
        logits = penalized_;
    }
    if (p_.greedy()) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < V; ++i)
            if (logits[i] > logits[best]) best = i;
        return token_id(best);
    }
    // Temperature, then candidates ordered by logit (descending; ties by id).
    const double inv_t = 1.0 / double(p_.temperature);
    cand_.clear();
    cand_.reserve(V);
    for (std::size_t i = 0; i < V; ++i)
        if (logits[i] > -std::numeric_limits<float>::infinity())  // not masked, not NaN
            cand_.emplace_back(double(logits[i]) * inv_t, token_id(i));
    if (cand_.empty()) return 0;
    auto by_value = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    std::size_t n = cand_.size();
    if (p_.top_k > 0 && std::size_t(p_.top_k) < n) {
        n = std::size_t(p_.top_k);
        std::partial_sort(cand_.begin(), cand_.begin() + std::ptrdiff_t(n), cand_.end(), by_value);
    } else {
        std::sort(cand_.begin(), cand_.end(), by_value);
    }
    // Softmax over the kept candidates (double).
    const double mx = cand_[0].first;
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        cand_[i].first = std::exp(cand_[i].first - mx);
        total += cand_[i].first;
    }
    // Top-p: the smallest prefix whose mass reaches top_p (at least one token).
    if (p_.top_p < 1.0f) {
        const double want = double(p_.top_p) * total;
        double cum = 0;
        std::size_t k = 0;
        while (k < n) {
            cum += cand_[k].first;
            ++k;
            if (cum >= want) break;
        }
        n = std::max<std::size_t>(k, 1);
    }
    // Min-p: tokens at least min_p times as likely as the most likely one.
    if (p_.min_p > 0.0f) {
        const double floor = double(p_.min_p) * cand_[0].first;
        std::size_t k = 1;
        while (k < n && cand_[k].first >= floor) ++k;
        n = k;
    }
    double mass = 0;
    for (std::size_t i = 0; i < n; ++i) mass += cand_[i].first;
    const double u = rng_.uniform() * mass;
    double cum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        cum += cand_[i].first;
        if (u < cum) return cand_[i].second;
    }
    return cand_[n - 1].second;
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
