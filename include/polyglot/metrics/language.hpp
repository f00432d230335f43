// SPDX-License-Identifier: Apache-2.0
/// @file The `language` metric (product.md §3): fastText lid.176 language identification of
/// prompts and responses against each record's target language.
///
/// Per text the model's top-1 label is taken (newlines folded to spaces; see text::langid).
/// Definitions (all counts are of records):
///   - `*_target_lang_rate`: among records with a target language (record.lang, normalised by
///     text::normalize_lang_code: "deu", "de-DE", "German" → "de"), the share whose top label
///     equals it. Records without a target language are excluded and counted in
///     `records_without_target_lang`; null when no record has one. An empty (whitespace-only)
///     text has no label and so never matches: it stays in the denominator (an empty response
///     is not a response in the target language).
///   - `prompt_response_agreement`: among records where both texts have a label, the share
///     where the two labels are equal (null when there is none).
///   - `*_top_languages`: the 5 most frequent top labels among labelled texts, as
///     [{"lang", "count", "share"}] with share = count / labelled texts; ties broken by label.
///   - `*_mean_top1_prob`: mean top-1 probability over labelled texts.
///   - counters: num_records, records_with_target_lang, records_without_target_lang,
///     records_target_not_in_model (a normalised target lid.176 cannot output, e.g. a typo:
///     its records can never match), empty_prompts, empty_responses, agreement_records,
///     `target_languages` {normalised code: records}, and `model`.
/// Per record: prompt_lang, prompt_lang_prob, response_lang, response_lang_prob ("" and 0 for
/// empty texts).
///
/// State merges are exact (integer counters; probabilities summed in fixed point, units of
/// 2^-32), so results do not depend on how records are split across threads or shards.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <polyglot/core/assert.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/text/langid.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

class language_metric {
  public:
    static constexpr std::string_view name = "language";
    static constexpr int top_languages = 5;
    static constexpr int prob_fixed_bits = 32;

    /// Statistics of one side (prompts or responses).
    struct side_state {
        std::uint64_t labelled = 0;        ///< texts with a label (non-empty)
        std::uint64_t empty = 0;           ///< whitespace-only texts
        std::uint64_t target_matches = 0;  ///< records whose label equals the target
        std::uint64_t prob_sum_fixed = 0;  ///< Σ top-1 prob in units of 2^-prob_fixed_bits
        std::map<std::string, std::uint64_t, std::less<>> label_counts;

        void merge(const side_state& o) {
            labelled += o.labelled;
            empty += o.empty;
            target_matches += o.target_matches;
            prob_sum_fixed += o.prob_sum_fixed;
            for (const auto& [label, count] : o.label_counts) label_counts[label] += count;
        }
    };

    struct state {
        std::uint64_t records = 0;
        std::uint64_t with_target = 0;
        std::uint64_t target_not_in_model = 0;
        std::uint64_t agreement_records = 0;  ///< both texts labelled
        std::uint64_t agreements = 0;         ///< ... with the same label
        side_state prompts;
        side_state responses;
        std::map<std::string, std::uint64_t, std::less<>> target_languages;
    };

    /// @param model a loaded language-ID model (text::open_langid()); shared, read-only.
    explicit language_metric(std::shared_ptr<const text::langid> model)
        : model_(std::move(model)),
          labels_(model_ ? model_->labels().begin() : empty_labels().begin(),
                  model_ ? model_->labels().end() : empty_labels().end()) {
        if (!model_) throw argument_error("language metric: no language-ID model");
        model_name_ = model_->name();
    }
    /// Merge/load/finalize only (polyglot merge): the model known by name; accumulate() must
    /// not be called.
    static language_metric named(std::string model_name) {
        language_metric m;
        m.model_name_ = std::move(model_name);
        return m;
    }

    [[nodiscard]] state make_state() const { return {}; }

    void accumulate(state& s, const record& r, instance_values& values) const {
        POLYGLOT_ASSERT(model_);
        ++s.records;
        const text::langid::prediction p = model_->top1(r.prompt);
        const text::langid::prediction q = model_->top1(r.response);
        values.add("prompt_lang", std::string_view(p.label));
        values.add("prompt_lang_prob", static_cast<double>(p.prob));
        values.add("response_lang", std::string_view(q.label));
        values.add("response_lang_prob", static_cast<double>(q.prob));
        add_side(s.prompts, p);
        add_side(s.responses, q);
        if (!p.label.empty() && !q.label.empty()) {
            ++s.agreement_records;
            s.agreements += p.label == q.label;
        }
        const std::string target = text::normalize_lang_code(r.lang);
        if (target.empty()) return;
        ++s.with_target;
        increment(s.target_languages, target);
        if (!labels_.contains(target)) ++s.target_not_in_model;
        s.prompts.target_matches += p.label == target;
        s.responses.target_matches += q.label == target;
    }

    void merge(state& left, const state& right) const {
        left.records += right.records;
        left.with_target += right.with_target;
        left.target_not_in_model += right.target_not_in_model;
        left.agreement_records += right.agreement_records;
        left.agreements += right.agreements;
        left.prompts.merge(right.prompts);
        left.responses.merge(right.responses);
        for (const auto& [code, count] : right.target_languages) {
            left.target_languages[code] += count;
        }
    }

    void finalize(const state& s, io::json_writer& w) const {
        w.kv("responses_target_lang_rate", ratio(s.responses.target_matches, s.with_target));
        w.kv("prompts_target_lang_rate", ratio(s.prompts.target_matches, s.with_target));
        w.kv("prompt_response_agreement", ratio(s.agreements, s.agreement_records));
        w.key("responses_top_languages");
        write_top(w, s.responses);
        w.key("prompts_top_languages");
        write_top(w, s.prompts);
        w.kv("responses_mean_top1_prob", mean_prob(s.responses));
        w.kv("prompts_mean_top1_prob", mean_prob(s.prompts));
        w.kv("num_records", s.records);
        w.kv("records_with_target_lang", s.with_target);
        w.kv("records_without_target_lang", s.records - s.with_target);
        w.kv("records_target_not_in_model", s.target_not_in_model);
        w.kv("empty_prompts", s.prompts.empty);
        w.kv("empty_responses", s.responses.empty);
        w.kv("agreement_records", s.agreement_records);
        w.kv_object("target_languages", s.target_languages);
        w.kv("model", model_name_);
    }

    void save(const state& s, io::binary_writer& w) const {
        for (std::uint64_t v :
             {s.records, s.with_target, s.target_not_in_model, s.agreement_records, s.agreements})
            w.varint(v);
        for (const side_state* sd : {&s.prompts, &s.responses}) {
            for (std::uint64_t v :
                 {sd->labelled, sd->empty, sd->target_matches, sd->prob_sum_fixed})
                w.varint(v);
            save_counts(w, sd->label_counts);
        }
        save_counts(w, s.target_languages);
    }

    void load(state& s, io::binary_reader& r) const {
        for (std::uint64_t* v : {&s.records, &s.with_target, &s.target_not_in_model,
                                 &s.agreement_records, &s.agreements})
            *v = r.varint("language counter");
        for (side_state* sd : {&s.prompts, &s.responses}) {
            for (std::uint64_t* v :
                 {&sd->labelled, &sd->empty, &sd->target_matches, &sd->prob_sum_fixed})
                *v = r.varint("language counter");
            load_counts(r, sd->label_counts);
        }
        load_counts(r, s.target_languages);
    }

    [[nodiscard]] const text::langid& model() const noexcept { return *model_; }

  private:
    language_metric() = default;

    static const std::vector<std::string>& empty_labels() {
        static const std::vector<std::string> none;
        return none;
    }

    static void increment(std::map<std::string, std::uint64_t, std::less<>>& m,
                          std::string_view key) {
        if (auto it = m.find(key); it != m.end()) {
            ++it->second;
        } else {
            m.emplace(std::string(key), 1);
        }
    }

    using count_map = std::map<std::string, std::uint64_t, std::less<>>;
    static void save_counts(io::binary_writer& w, const count_map& m) {
        w.varint(m.size());
        for (const auto& [k, v] : m) {
            w.str(k);
            w.varint(v);
        }
    }
    static void load_counts(io::binary_reader& r, count_map& m) {
        m.clear();
        const std::uint64_t n = r.count(2, "language table size");
        for (std::uint64_t i = 0; i < n; ++i) {
            std::string k(r.str("language label"));
            m[std::move(k)] = r.varint("language count");
        }
        if (m.size() != n) r.fail("language table (duplicate label)");
    }

    static void add_side(side_state& side, const text::langid::prediction& p) {
        if (p.label.empty()) {
            ++side.empty;
            return;
        }
        ++side.labelled;
        increment(side.label_counts, p.label);
        const double prob = std::clamp(static_cast<double>(p.prob), 0.0, 2.0);
        side.prob_sum_fixed +=
            static_cast<std::uint64_t>(std::llround(std::ldexp(prob, prob_fixed_bits)));
    }

    static double ratio(std::uint64_t num, std::uint64_t den) {
        if (den == 0) return std::numeric_limits<double>::quiet_NaN();  // written as null
        return static_cast<double>(num) / static_cast<double>(den);
    }

    static double mean_prob(const side_state& side) {
        if (side.labelled == 0) return std::numeric_limits<double>::quiet_NaN();
        return std::ldexp(static_cast<double>(side.prob_sum_fixed), -prob_fixed_bits) /
               static_cast<double>(side.labelled);
    }

    static void write_top(io::json_writer& w, const side_state& side) {
        std::vector<std::pair<std::string_view, std::uint64_t>> items(side.label_counts.begin(),
                                                                      side.label_counts.end());
        // Most frequent first; equal counts by label (the map is label-ordered already, and
        // stable_sort keeps that order among ties).
        std::stable_sort(items.begin(), items.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
        if (items.size() > static_cast<std::size_t>(top_languages)) items.resize(top_languages);
        w.begin_array();
        for (const auto& [label, count] : items) {
            w.begin_object();
            w.kv("lang", label);
            w.kv("count", count);
            w.kv("share", ratio(count, side.labelled));
            w.end_object();
        }
        w.end_array();
    }

    std::shared_ptr<const text::langid> model_;
    std::set<std::string, std::less<>> labels_;
    std::string model_name_;
};

}  // namespace metrics
POLYGLOT_END_NAMESPACE
