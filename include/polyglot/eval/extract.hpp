// SPDX-License-Identifier: Apache-2.0
/// @file Numeric extractive match for generative math tasks (MGSM), after lighteval's
/// MultilingualExtractiveMatchMetric with ExprExtractionConfig(try_extract_without_anchor=True),
/// extraction_mode="first_match", precision 2 (docs/eval.md §MGSM). Re-implemented without a
/// regex engine or sympy:
///  * candidates, by priority: (100) the answer word, an optional space and a colon, then a
///    number/expression; (200) the answer word then a number/expression; (300) any number or
///    expression after the start of the text, a space (any position for languages without
///    sentence spaces, ja/zh) or '='. Within the first priority that matches, the match ending
///    last wins (first_match: only that one is tried).
///  * numbers: thousands groups "1,234" / "1 234" (+ ".5"), "12.5" / "12,5", ".5", "12",
///    optional currency sign before and "%"/percent after (value / 100).
///  * expressions: digits, spaces and + - * / ^ ( ) evaluated; × and ÷ make the match
///    unparsable, as sympy's parse_expr.
///  * comparison: equal within 1e-9 (relative), or after rounding to 2 decimals when either side
///    is a decimal number or a percentage.
/// Thread-safe and deterministic.
#pragma once

#include <polyglot/eval/template.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {

struct extracted_number {
    bool found = false;  ///< a candidate matched and parsed
    double value = 0;
    bool inexact = false;  ///< a decimal number or a percentage (compare at 2 decimals)
    std::string text;      ///< the matched text ("" when nothing matched)
};

/// Extracts the answer of @p text under @p lit's answer word and punctuation.
[[nodiscard]] extracted_number extract_number(std::string_view text,
                                              const translation_literals& lit);

/// True when both were found and they are equal (see the file comment).
[[nodiscard]] bool numbers_match(const extracted_number& gold,
                                 const extracted_number& pred) noexcept;

}  // namespace eval
POLYGLOT_END_NAMESPACE
