// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: `tokenizer.json` patterns ({"String": ..} or
/// {"Regex": ..}, our matcher with an ICU fallback) and the split behaviours of
/// NormalizedString::split, shared by the Split / Replace normalizer / pre-tokenizer stages.
#pragma once

#include <unicode/regex.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/tokenizers/hf/pipeline.hpp"
#include "base/tokenizers/hf/regex.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

// ---- split behaviours (NormalizedString::split) ------------------------------------------------

enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

using match_list = std::vector<std::pair<std::pair<std::size_t, std::size_t>, bool>>;

/// (range, is_match) over the whole of [0, n) from sorted match ranges (Pattern::find_matches).
void matches_to_splits(const std::vector<std::pair<std::size_t, std::size_t>>& m, std::size_t n,
                       bool invert, match_list& out);

/// Applies a split behaviour: (range, remove) pairs.
void apply_behavior(const match_list& in, split_behavior b, match_list& out);

split_behavior parse_behavior(std::string_view s, const std::filesystem::path& file);

/// Matches of a char predicate: every matching character is its own match (Pattern for Fn).
template <class Pred>
void char_matches(std::string_view s, Pred&& pred,
                  std::vector<std::pair<std::size_t, std::size_t>>& out) {
    out.clear();
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len;
        const char32_t c = cp_at(s, i, len);
        if (pred(c)) out.emplace_back(i, i + len);
        i += len;
    }
}

// ---- regular expressions ------------------------------------------------------------------------

/// ICU fallback for patterns outside tok_regex's subset (ICU's tables are Unicode 15.0: close,
/// not exact). \s / \S become \p{White_Space} / \P{White_Space} (Oniguruma's meaning; ICU's \s
/// lacks U+000B and U+0085).
struct icu_regex {
    std::unique_ptr<icu::RegexPattern> pattern;

    icu_regex(std::string_view re, const std::filesystem::path& file);

    void find_all(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const;
};

/// A `tokenizer.json` pattern: {"String": literal} or {"Regex": re}.
struct pattern {
    std::string literal;
    std::unique_ptr<tok_regex> re;
    std::unique_ptr<icu_regex> icu;

    static pattern parse(element e, const std::filesystem::path& file, const char* what);
    void find_all(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const;
};

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
