// SPDX-License-Identifier: Apache-2.0
/// @file The rubric judge (the paper's `reward_model` metric, docs/reference.md §4.3): the
/// prompt, the two output formats and their parsers, and a run over a generator with
/// deterministic re-asking of invalid judgements.
///
/// Formats:
///   - json: the paper's M_RUBRIC_PROMPT (polyglot-teachers @ deddec5), output constrained to
///     {"feedback": string, "score": 1..5} — feedback first, so the judge reasons before it
///     scores (the paper's schema put the score first).
///   - prometheus: the paper's earlier M_RUBRIC_PROMPT (@ 9686016: "(write a feedback for
///     criteria) [RESULT] (an integer number between 1 and 5)") with prometheus-eval's
///     ABS_SYSTEM_PROMPT; free text parsed as prometheus-eval's `_parse_output_absolute` does
///     (one case-insensitive pattern anchored at the end, 1–5 only).
/// Both prompts fill prometheus-eval's SCORE_RUBRIC_TEMPLATE with the paper's
/// get_rubric_criteria(language): the criterion and five descriptors.
#pragma once

#include <cstdint>
#include <functional>
#include <polyglot/core/record.hpp>
#include <polyglot/plugin/services.hpp>
#include <span>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace judge {

enum class judge_format { json, prometheus };

/// "json" / "prometheus" ↔ judge_format (argument_error otherwise).
judge_format parse_format(std::string_view name);
std::string_view format_name(judge_format f) noexcept;

/// Identifies the exact prompt and output contract in reports.
std::string_view prompt_version(judge_format f) noexcept;

/// The filled rubric ("[criterion]\nScore 1: …\n…\nScore 5: …") for @p language_name.
std::string rubric(std::string_view language_name);

/// The user message judging @p response to @p instruction, written in @p language_name.
std::string user_prompt(judge_format f, std::string_view language_name,
                        std::string_view instruction, std::string_view response);

/// The chat messages (a JSON array) sent to the judge: the user prompt, preceded for the
/// prometheus format by prometheus-eval's system prompt.
std::string messages(judge_format f, std::string_view language_name, std::string_view instruction,
                     std::string_view response);

/// The JSON schema of the json format.
std::string_view json_schema() noexcept;

/// Why one judge output was not a valid judgement.
enum class failure {
    none,
    call_failed,       ///< the model or server call failed
    truncated,         ///< unparsable and cut by max_new_tokens
    unparsable,        ///< not a judgement in the format
    out_of_range,      ///< a score outside 1..5
    schema_violation,  ///< a server's reply that did not follow the JSON schema (its check)
};
std::string_view failure_name(failure f) noexcept;

struct verdict {
    std::int32_t score = 0;  ///< 1..5 when why == none
    std::string feedback;
    failure why = failure::none;
    std::string detail;  ///< what was wrong (for messages)
};

/// Parses a json-format output: one JSON value valid against json_schema(); a number score
/// outside 1..5 is out_of_range, anything else that fails is unparsable.
verdict parse_json(std::string_view text);

/// Parses a prometheus-format output as prometheus-eval: the last "[RESULT] N" / "Score: N" /
/// "score of N" … at the very end of the text (brackets, "/5", "out of 5" allowed); N outside
/// 1..5 is out_of_range; no such ending is unparsable. Feedback: the text before the marker.
verdict parse_prometheus(std::string_view text);

/// Sampling and retry settings.
struct options {
    judge_format format = judge_format::json;
    std::uint32_t retries = 3;  ///< re-asks after an invalid judgement
    std::uint32_t max_new_tokens = 1024;
    float temperature = 1.0f;  ///< prometheus-eval's defaults
    float top_p = 0.9f;
    std::uint64_t seed = 0;
};

/// The sampling seed of attempt @p attempt (0 = the first ask): a fixed mix of (seed, attempt),
/// so a re-ask samples differently and every run asks the same questions with the same seeds.
std::uint64_t attempt_seed(std::uint64_t seed, std::uint32_t attempt) noexcept;

/// One item to judge. @p index: the record's job-wide index (seeds its sampling, so verdicts do
/// not depend on how records are grouped into calls).
struct item {
    std::string_view language_name;
    std::string_view instruction;
    std::string_view response;
    std::uint64_t index = 0;
};

/// Judges @p items into @p out (same size): each is asked, and re-asked up to o.retries times
/// while its output is not a valid judgement; out[i].score stays 0 when every attempt failed.
/// Calls @p g once per attempt round (grouping items with consecutive indices into one
/// generate call). A failed model/server call for an item is an attempt that failed
/// (call_failed), never an exception, when the generator reports per-item failures.
void run(generator& g, const options& o, std::span<const item> items, std::span<judgement> out,
         const call_hooks* hooks = nullptr);

}  // namespace judge
POLYGLOT_END_NAMESPACE
