// SPDX-License-Identifier: Apache-2.0
/// @file lighteval's prompt templates for student evaluation (docs/eval.md §Templates): the
/// per-language literals (lighteval `translation_literals.py`), the multilingual multiple-choice
/// template in its letter-choice (MCF) formulation (`templates/multichoice.py`,
/// `utils/formulation.py`, `utils/formatting_utils.py`), plain-text few-shot joining
/// (`prompt_manager.py`) and tok_encode_pair's whitespace move (`abstract_model.py`).
/// Everything is a pure function of its arguments (thread-safe, deterministic).
#pragma once

#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {

/// One language's words and punctuation, as lighteval's TranslationLiterals (unset
/// punctuation fields take lighteval's defaults: ". , ? ! : ;" and single spaces).
struct translation_literals {
    std::string_view lang;  ///< ISO 639-1 code ("ar")
    std::string_view question_word;
    std::string_view answer;
    std::string_view full_stop;
    std::string_view comma;
    std::string_view question_mark;
    std::string_view exclamation_mark;
    std::string_view word_space;
    std::string_view sentence_space;  ///< "" for Japanese and Chinese
    std::string_view colon;
    std::string_view semicolon;
};

/// Every language with literals (ar, cs, de, es, id, ja, en, tl, bn, fr, hi, it, nl, pl, pt,
/// ru, sw, te, th, tr, uk, vi, zh).
std::span<const translation_literals> all_literals() noexcept;

/// The literals of @p lang. @throws argument_error naming the supported languages.
const translation_literals& literals_for(std::string_view lang);

/// @p s without trailing whitespace, as Python's str.rstrip() (every code point for which
/// str.isspace() is true: ASCII whitespace, U+001C..U+001F, U+0085, U+00A0, U+1680,
/// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
[[nodiscard]] std::string_view rstrip(std::string_view s) noexcept;

/// Python's `s[0].upper() + s[1:]`: the first code point in upper case by Unicode's full case
/// mapping ("ß" → "SS"), the rest unchanged.
[[nodiscard]] std::string capitalize(std::string_view s);

/// lighteval's fix_ending_punct: rstrip, then a final ASCII '?', '.', ',' or ':' becomes the
/// language's question mark, full stop, comma or colon.
[[nodiscard]] std::string fix_ending_punct(std::string_view s, const translation_literals& lit);

/// A rendered multiple-choice item: the query and the choices as lighteval's Doc has them.
struct mc_prompt {
    std::string query;
    std::vector<std::string> choices;  ///< MCF: sentence space + letter (" A", or "A" in ja)
};

/// lighteval's get_mcq_prompt_function(language, adapter, MCFFormulation()):
///   {instruction\n}{Context\n}{Question}{colon}{sp}{Question text}\n{sp}A{stop}{sp}{Option}\n
///   ...{Answer}{colon}
/// with the question, context and options capitalised and their final punctuation fixed.
/// At most 26 options (letters A..Z). @throws argument_error for more.
[[nodiscard]] mc_prompt render_mcf(const translation_literals& lit, std::string_view question,
                                   std::span<const std::string> options,
                                   std::string_view instruction = {},
                                   std::string_view context = {});

/// lighteval's plain-text prompt (no system prompt, no instruction): each few-shot example as
/// `query + " " + strip(gold)`, then the query, joined by blank lines ("\n\n").
[[nodiscard]] std::string join_fewshot(
    std::span<const std::pair<std::string, std::string>> fewshots, std::string_view query);

/// tok_encode_pair's string step: the context's trailing whitespace (Python's rstrip) moves to
/// the front of every continuation.
struct text_split {
    std::string context;
    std::vector<std::string> continuations;
};
[[nodiscard]] text_split move_trailing_space(std::string_view context,
                                             std::span<const std::string> continuations);

}  // namespace eval
POLYGLOT_END_NAMESPACE
