// SPDX-License-Identifier: Apache-2.0
/// @file The one truncation policy for SCORE, shared by every backend (cpu, cuda, remote), so
/// that what is scored never depends on the device.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace polyglot::model {

/// What truncate_pair cut.
struct truncation {
    std::size_t prompt_dropped = 0;    ///< prompt tokens removed (from the left, after the prefix)
    std::size_t response_dropped = 0;  ///< response tokens removed (from the right)
    [[nodiscard]] bool truncated() const noexcept {
        return prompt_dropped > 0 || response_dropped > 0;
    }
};

/// Fits prompt + response into @p max_tokens: the first @p n_prefix tokens of the prompt (the
/// special prefix, e.g. BOS, as the tokenizer's post-processor adds it) are kept, then prompt
/// tokens are dropped from the left (the oldest context goes first); only when the prefix plus
/// the response alone still do not fit is the response cut, from the right. The response is
/// never dropped entirely while max_tokens > n_prefix.
template <class Id>
truncation truncate_pair(std::vector<Id>& prompt, std::vector<Id>& response,
                         std::size_t n_prefix, std::size_t max_tokens) {
    truncation t;
    if (prompt.size() + response.size() <= max_tokens) return t;
    const std::size_t keep_prefix = std::min(n_prefix, prompt.size());
    std::size_t over = prompt.size() + response.size() - max_tokens;
    const std::size_t drop = std::min(over, prompt.size() - keep_prefix);
    prompt.erase(prompt.begin() + static_cast<std::ptrdiff_t>(keep_prefix),
                 prompt.begin() + static_cast<std::ptrdiff_t>(keep_prefix + drop));
    t.prompt_dropped = drop;
    over -= drop;
    if (over > 0) {
        const std::size_t cut = std::min(over, response.size());
        response.resize(response.size() - cut);
        t.response_dropped = cut;
    }
    return t;
}

}  // namespace polyglot::model
