// SPDX-License-Identifier: Apache-2.0
/// @file Teacher synthesis (`polyglot synthesize`, docs/reference.md §3): the paper's three
/// strategies over a seed file, with any generator backend.
///
///   generate   a new {prompt, response} in the target language from three in-context examples
///              of the seed pool and one of ten task categories, both drawn per row
///   translate  an English seed prompt translated, plus a response ({prompt, response})
///   respond    a response (free text) to a seed prompt in the target language
///
/// The job is a pure function of (seed file, options): rows are filtered (strategy, language),
/// optionally shuffled and limited, and each row's prompt, examples, category and sampling seed
/// depend only on the seed and the row's position. Records are appended to the output as whole
/// lines in job order, so a rerun after a crash continues the file (rows whose id is already
/// there are not asked again) and the output is byte-identical for any batch size, thread
/// count or concurrency. Records follow the paper's schema (`prepare_output_dataset`), so
/// `polyglot score` reads them directly.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <polyglot/plugin/services.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace synth {

enum class strategy { generate, translate, respond };
strategy parse_strategy(std::string_view name);  ///< argument_error for unknown names
std::string_view strategy_name(strategy s) noexcept;

/// How the GENERATE task category is chosen.
enum class category_mode {
    drawn,  ///< drawn per row from the seeded RNG and named in the prompt (ours)
    paper   ///< the paper's text: the model is asked to pick one of the ten at random
};

/// The ten task categories of the paper's GENERATE template.
extern const std::array<std::string_view, 10> categories;

/// Prompt texts (the paper's SYSTEM_PROMPT, GENERATE_TPL, TRANSLATE_TPL, RESPOND_TPL).
std::string system_prompt(std::string_view language_name);
/// @p category: an index into categories (category_mode::drawn), or nullopt for the paper's
/// text. @p examples: the formatted in-context examples.
std::string generate_prompt(std::string_view language_name, std::string_view examples,
                            std::optional<std::size_t> category);
std::string translate_prompt(std::string_view language_name, std::string_view prompt);
std::string respond_prompt(std::string_view language_name, std::string_view prompt);
/// "Prompt: …\nResponse: …" pairs separated by blank lines.
std::string format_examples(std::span<const std::pair<std::string_view, std::string_view>> ex);
/// The JSON schema of the structured strategies' output ({prompt, response}); "" for respond.
std::string_view output_schema(strategy s) noexcept;
/// Identifies the templates in reports.
std::string prompt_version(strategy s, category_mode m);

/// One usable seed row.
struct seed_row {
    std::string id, source, language, source_id, prompt, response;
    bool has_source = false, has_source_id = false, has_response = false;
    std::uint64_t line = 0;  ///< 1-based line in the seed file
};

struct options {
    strategy strat = strategy::generate;
    std::string lang;           ///< target language code (records' `language`)
    std::string language_name;  ///< its English name (prompts); "" = from lang
    std::string model_name;     ///< the records' `model`
    category_mode categories = category_mode::drawn;
    std::uint64_t seed = 0;
    float temperature = 0.8f;  ///< the paper's run
    float top_p = 0.9f;
    std::uint32_t max_new_tokens = 2048;
    /// The paper's prompt filter: rows whose cl100k tokens of system + synth prompt + 500
    /// exceed this are skipped (0 = no filter).
    std::size_t max_model_len = 4096;
    std::string length_tokenizer = "cl100k_base";
    bool filter = true;                    ///< by the seeds' strategy / language fields
    std::optional<std::uint64_t> shuffle;  ///< shuffle the rows with this seed first
    std::uint64_t limit = 0;               ///< then keep the first N (0 = all)
    std::size_t batch = 64;                ///< rows per round of generate calls
    /// respond: keep a response cut by max_new_tokens (default: a failure, as Curator counts
    /// finish_reason "length"). Structured outputs are kept only when they parse.
    bool keep_truncated = false;
};

/// The rows to synthesize, in job order, and what was left out while reading.
struct plan {
    std::vector<seed_row> rows;
    std::map<std::string, std::uint64_t> skipped;  ///< reason → count
    std::uint64_t lines_read = 0;
};

/// Reads @p seeds (JSONL: prompt, response, id, source, source_id, language, strategy as a
/// string or a list) and selects the job's rows. Bad lines are skipped and counted
/// (@p on_skip gets "FILE:LINE: reason"), or throw under @p strict. Throws io_error.
plan make_plan(const std::filesystem::path& seeds, const options& o,
               const std::function<void(const std::string&)>& on_skip = {}, bool strict = false);

/// The synth prompt of job row @p i (deterministic; uses the pool for generate's examples).
std::string synth_prompt(const plan& p, std::size_t i, const options& o);

struct stats {
    std::uint64_t rows = 0;                       ///< rows in the plan
    std::uint64_t written = 0;                    ///< records appended by this run
    std::uint64_t already_done = 0;               ///< rows whose id the output already had
    std::uint64_t too_long = 0;                   ///< skipped by the prompt-length filter
    std::map<std::string, std::uint64_t> failed;  ///< reason → rows not written
    std::uint64_t truncated_kept = 0;  ///< of written: cut by max_new_tokens (keep_truncated)
    std::uint64_t tokens_in = 0, tokens_out = 0;
    std::uint64_t dropped_partial_lines = 0;  ///< an unfinished last line cut at start
    bool cancelled = false;
    double elapsed_seconds = 0;
    [[nodiscard]] std::uint64_t failed_total() const;
    /// Rows dealt with so far (done before, written, skipped, failed).
    [[nodiscard]] std::uint64_t processed() const;
};

struct run_hooks {
    /// After each round, with the totals so far.
    std::function<void(const stats&)> on_progress;
    /// A row that produced no record: "row N (id X): reason: detail".
    std::function<void(const std::string&)> on_failure;
    /// Set to non-zero to stop after the round in flight (its records are written).
    const volatile std::int32_t* cancel = nullptr;
};

/// Runs the job, appending records to @p out (created if absent). Rows whose id is already in
/// @p out are skipped; an unfinished last line (a crash mid-write) is cut first. Throws io_error
/// for the output and whatever the generator throws for a failed call as a whole.
stats run(generator& g, const plan& p, const options& o, const std::filesystem::path& out,
          const run_hooks& hooks = {});

/// The summary of a run (`polyglot synthesize --report`, pretty-printed JSON ending in a
/// newline): the job's files and settings, seed lines read and skipped, the counts of @p st,
/// and @p cost where prices were given. @p teacher is the generator's id.
[[nodiscard]] std::string report_json(const plan& p, const options& o, const stats& st,
                                      const std::string& seeds, const std::string& output,
                                      const std::string& teacher, std::optional<double> cost);

}  // namespace synth
POLYGLOT_END_NAMESPACE
