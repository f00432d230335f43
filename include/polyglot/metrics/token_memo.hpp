// SPDX-License-Identifier: Apache-2.0
/// @file A per-thread memo of the last few tokenizations, so that the length and lexical
/// metrics, which run one after the other on the same record, tokenize each text only once.
#pragma once

#include <array>
#include <polyglot/text/tokenizer.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

/// Returns the ids of @p text under @p tok (no special tokens). The result is cached per thread
/// (4 entries, keyed by the tokenizer object and the text's bytes, compared in full, so a hit is
/// always correct while @p tok is alive); the reference is valid until the calling thread's
/// next call. Thread-safe (thread-local state).
inline const std::vector<text::token_id>& encode_memo(const text::tokenizer& tok,
                                                      std::string_view text) {
    struct entry {
        const text::tokenizer* tok = nullptr;
        std::string text;
        std::vector<text::token_id> ids;
    };
    thread_local std::array<entry, 4> cache;
    thread_local unsigned next = 0;
    for (entry& e : cache)
        if (e.tok == &tok && std::string_view(e.text) == text) return e.ids;
    entry& e = cache[next++ % cache.size()];
    e.tok = nullptr;  // stays invalid if encode throws
    e.text.assign(text);
    e.ids.clear();
    tok.encode(text, e.ids);
    e.tok = &tok;
    return e.ids;
}

}  // namespace metrics
POLYGLOT_END_NAMESPACE
