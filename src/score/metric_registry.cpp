// SPDX-License-Identifier: Apache-2.0
// The metric table (score/metric_registry.hpp): a new metric is one entry here.
#include <polyglot/judge/rubric.hpp>
#include <polyglot/metrics/distinct_ri.hpp>
#include <polyglot/metrics/language.hpp>
#include <polyglot/metrics/length.hpp>
#include <polyglot/metrics/lexical.hpp>
#include <polyglot/metrics/perplexity.hpp>
#include <polyglot/metrics/rubric.hpp>
#include <polyglot/plugin/services.hpp>
#include <polyglot/score/metric_registry.hpp>
#include <polyglot/text/langid.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

namespace {

std::unique_ptr<any_metric> make_language(build_context& c) {
    auto lid = text::open_langid(c.config.lid_model);
    c.bundle.lid_model = lid->name();
    return erase(metrics::language_metric(lid));
}

std::unique_ptr<any_metric> make_distinct_ri(build_context& c) {
    c.bundle.emb = open_embedder(c.config.embedder, c.config.backend);
    c.bundle.embedding_model = c.bundle.emb->id();
    return erase(metrics::distinct_ri_metric());
}

std::unique_ptr<any_metric> make_perplexity(build_context& c) {
    c.bundle.lm = open_scorer(c.config.lm, c.config.backend);
    c.bundle.base_model = c.bundle.lm->id();
    return erase(metrics::perplexity_metric(c.bundle.base_model));
}

std::unique_ptr<any_metric> make_rubric(build_context& c) {
    metric_bundle& b = c.bundle;
    b.judge = open_generator(c.config.judge, c.config.backend);
    b.judge_model = b.judge->id();
    b.judge_options = c.config.judge_options;
    const auto& o = c.config.judge_options;
    metrics::rubric_metric::info info;
    info.judge = b.judge_model;
    info.format = std::string(judge::format_name(o.format));
    info.prompt_version = std::string(judge::prompt_version(o.format));
    info.retries = o.retries;
    info.max_new_tokens = o.max_new_tokens;
    info.temperature = io::float_as_written(o.temperature);
    info.top_p = io::float_as_written(o.top_p);
    info.seed = o.seed;
    info.invalid_as = c.config.invalid_as;
    return erase(metrics::rubric_metric(std::move(info)));
}

/// The judge's settings as make_header (state.cpp) recorded them.
std::unique_ptr<any_metric> rubric_from_state(const state_header& h) {
    metrics::rubric_metric::info info;
    info.judge = header_value(h, "judge_model");
    info.format = header_value(h, "judge_format");
    info.prompt_version = header_value(h, "judge_prompt_version");
    auto number = [&](const char* k) { return std::stod("0" + header_value(h, k)); };
    info.retries = static_cast<std::uint32_t>(number("judge_retries"));
    info.max_new_tokens = static_cast<std::uint32_t>(number("judge_max_new_tokens"));
    info.temperature = number("judge_temperature");
    info.top_p = number("judge_top_p");
    info.seed = std::stoull("0" + header_value(h, "judge_seed"));
    if (const auto ia = header_value(h, "invalid_as"); !ia.empty()) info.invalid_as = std::stoi(ia);
    return erase(metrics::rubric_metric(std::move(info)));
}

}  // namespace

const std::vector<metric_entry>& metric_registry() {
    // clang-format off
    static const std::vector<metric_entry> table = {
        {.name = metrics::length_metric::name,
         .make = [](build_context& c) { return erase(metrics::length_metric(c.tokenizer())); },
         .from_state = [](const state_header& h) {
             return erase(metrics::length_metric::named(header_value(h, "tokenizer"))); },
         .summary = {{"prompt tokens (mean)", "prompts_average_length"},
                     {"response tokens (mean)", "responses_average_length"}}},
        {.name = metrics::lexical_metric::name,
         .make = [](build_context& c) { return erase(metrics::lexical_metric(c.tokenizer())); },
         .from_state = [](const state_header& h) {
             return erase(metrics::lexical_metric::named(header_value(h, "tokenizer"))); },
         .summary = {{"response distinct-1", "responses_distinct_1"},
                     {"response distinct-2", "responses_distinct_2"}}},
        {.name = metrics::language_metric::name,
         .make = make_language,
         .from_state = [](const state_header& h) {
             return erase(metrics::language_metric::named(header_value(h, "lid_model"))); },
         .summary = {{"responses in target language", "responses_target_lang_rate"},
                     {"prompts in target language", "prompts_target_lang_rate"}}},
        {.name = metrics::distinct_ri_metric::name,
         .needs = model_need::embedder,
         .missing_model = "metric distinct_ri needs an embedding model: give --embedder SPEC "
                          "(fasttext:PATH, or a Hugging Face model directory)",
         .make = make_distinct_ri,
         .from_state = [](const state_header&) { return erase(metrics::distinct_ri_metric()); },
         .summary = {{"prompt distinct-RI", "prompts_distinct_ri"},
                     {"response distinct-RI", "responses_distinct_ri"}}},
        {.name = metrics::perplexity_metric::name,
         .needs = model_need::lm,
         .missing_model = "metric perplexity needs a language model: give --lm DIR (a Hugging "
                          "Face model directory)",
         .make = make_perplexity,
         .from_state = [](const state_header& h) {
             return erase(metrics::perplexity_metric(header_value(h, "base_model"))); },
         .summary = {{"average perplexity", "average_perplexity"},
                     {"bits per byte", "bits_per_byte"}}},
        // The report section the paper's tools read is "reward_model"; --metrics also takes the
        // name of the method, "rubric".
        {.name = metrics::rubric_metric::name,
         .aliases = {"rubric"},
         .needs = model_need::judge,
         .missing_model = "metric rubric needs a judge model: give --judge SPEC (a model "
                          "directory or URL#MODEL)",
         .make = make_rubric,
         .from_state = rubric_from_state,
         .summary = {{"rubric score (mean)", "average_rubric_score"},
                     {"invalid judgements", "num_invalid"},
                     {"judge re-asks", "num_retries"}}},
    };
    // clang-format on
    return table;
}

}  // namespace score
POLYGLOT_END_NAMESPACE
