// SPDX-License-Identifier: Apache-2.0
/// @file The regular expressions of `tokenizer.json` (Split pre-tokenizer, Replace normalizer and
/// decoder), matched as `tokenizers` matches them with Oniguruma: leftmost, backtracking, first
/// alternative first, greedy quantifiers; `\s` = White_Space, `\p{..}` = Unicode 16.0 general
/// categories (unicode.hpp).
///
/// Why our own matcher: the pre-tokenizer regex runs over every byte of the input, a general
/// engine (ICU, Boost.Regex) in that loop costs more than the rest of the tokenizer, and ICU's
/// property tables are Unicode 15.0. This is a small backtracking VM over decoded code points
/// with per-class bitmaps and a first-character filter per top-level alternative. It covers
/// the syntax real tokenizers use (literals, classes with \p{..} / \s / \d / \w and ranges,
/// groups, (?i:..), ?, *, +, {m,n} and lazy forms, (?=..), (?!..), ^, $); anything else is
/// reported by compile() so that the caller can fall back to ICU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

class tok_regex {
  public:
    /// Compiles @p pattern; nullopt (with the reason in @p why) for syntax outside the subset.
    static std::unique_ptr<tok_regex> compile(std::string_view pattern, std::string& why);
    ~tok_regex();
    tok_regex(const tok_regex&) = delete;
    tok_regex& operator=(const tok_regex&) = delete;

    /// Byte ranges of the successive matches in @p s as Oniguruma's find_iter gives them
    /// (@p s is valid UTF-8). Thread-safe.
    void find_all(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const;

    struct program;

  private:
    explicit tok_regex(std::unique_ptr<program> p);
    std::unique_ptr<program> p_;
};

}  // namespace model
POLYGLOT_END_NAMESPACE
