// SPDX-License-Identifier: Apache-2.0
/// @file The rubric score (report section `reward_model`, docs/reference.md §4.3) from the
/// judge's verdicts the pipeline attached to each record (`record.judge`, judge/rubric.hpp).
///
/// `average_rubric_score` is the mean of the valid 1–5 scores; records without a valid verdict
/// after every attempt are `invalid`: counted by the reason of their last failed attempt and
/// left out of the mean — unless `invalid_as` is set (the paper scores them 1: `--invalid-as
/// 1`), in which case they enter the mean with that score. Also reported: the histogram of
/// valid scores, re-asks and failed attempts by reason, and the judge's identity, output
/// format, prompt version and sampling settings. Integer sums only: exact and
/// order-independent.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/metrics/metric.hpp>
#include <string>
#include <string_view>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

class rubric_metric {
  public:
    static constexpr std::string_view name = "reward_model";

    using count_map = std::map<std::string, std::uint64_t, std::less<>>;

    struct state {
        std::uint64_t total = 0;                   ///< records seen
        std::uint64_t valid = 0;                   ///< records with a valid verdict
        std::uint64_t invalid = 0;                 ///< records without one after every attempt
        std::uint64_t missing = 0;                 ///< no verdict attached (judge not run)
        std::uint64_t attempts = 0;                ///< judge outputs asked for
        std::uint64_t retries = 0;                 ///< re-asks (attempts beyond the first)
        std::uint64_t score_sum = 0;               ///< over valid records
        std::array<std::uint64_t, 6> histogram{};  ///< [1..5]
        count_map invalid_reasons;                 ///< last failure of each invalid record
        count_map attempt_failures;                ///< every failed attempt, by reason
        friend bool operator==(const state&, const state&) = default;
    };

    /// What the report says about the judge.
    struct info {
        std::string judge;           ///< the model's identity
        std::string format;          ///< json | prometheus
        std::string prompt_version;  ///< judge::prompt_version()
        std::uint32_t retries = 0;
        std::uint32_t max_new_tokens = 0;
        double temperature = 0, top_p = 0;
        std::uint64_t seed = 0;
        std::optional<std::int32_t> invalid_as;  ///< score given to invalid records, if any
    };

    rubric_metric() = default;
    explicit rubric_metric(info i) : info_(std::move(i)) {}

    [[nodiscard]] state make_state() const { return {}; }

    void accumulate(state& s, const record& r, instance_values& iv) const {
        ++s.total;
        if (!r.judge) {
            ++s.missing;
            return;
        }
        const judgement& j = *r.judge;
        s.attempts += j.attempts;
        if (j.attempts > 1) s.retries += j.attempts - 1;
        for (const auto& f : j.failures) increment(s.attempt_failures, f);
        iv.add("rubric_attempts", static_cast<std::int64_t>(j.attempts));
        if (j.score >= 1 && j.score <= 5) {
            ++s.valid;
            s.score_sum += static_cast<std::uint64_t>(j.score);
            ++s.histogram[static_cast<std::size_t>(j.score)];
            iv.add("rubric_score", static_cast<std::int64_t>(j.score));
            iv.add("rubric_feedback", std::string_view(j.feedback));
        } else {
            ++s.invalid;
            const std::string_view why = j.failures.empty() ? std::string_view("unknown")
                                                            : std::string_view(j.failures.back());
            increment(s.invalid_reasons, why);
            iv.add("rubric_score", std::numeric_limits<double>::quiet_NaN());
            iv.add("rubric_invalid", why);
            iv.add("rubric_output", std::string_view(j.last_output));
        }
    }

    void merge(state& a, const state& b) const {
        a.total += b.total;
        a.valid += b.valid;
        a.invalid += b.invalid;
        a.missing += b.missing;
        a.attempts += b.attempts;
        a.retries += b.retries;
        a.score_sum += b.score_sum;
        for (std::size_t i = 0; i < a.histogram.size(); ++i) a.histogram[i] += b.histogram[i];
        for (const auto& [k, v] : b.invalid_reasons) a.invalid_reasons[k] += v;
        for (const auto& [k, v] : b.attempt_failures) a.attempt_failures[k] += v;
    }

    /// The report's mean: valid scores only, or invalid records counted as info.invalid_as.
    [[nodiscard]] double average(const state& s) const {
        std::uint64_t n = s.valid;
        double sum = static_cast<double>(s.score_sum);
        if (info_.invalid_as) {
            n += s.invalid;
            sum += static_cast<double>(*info_.invalid_as) * static_cast<double>(s.invalid);
        }
        return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
    }

    void finalize(const state& s, io::json_writer& w) const {
        w.kv("average_rubric_score", average(s));
        w.kv("average_valid_score",
             s.valid ? static_cast<double>(s.score_sum) / static_cast<double>(s.valid)
                     : std::numeric_limits<double>::quiet_NaN());
        w.key("invalid_as");
        if (info_.invalid_as)
            w.value(*info_.invalid_as);
        else
            w.value(nullptr);
        w.kv("total_samples", s.total);
        w.kv("num_valid", s.valid);
        w.kv("num_invalid", s.invalid);
        w.kv_object("invalid_reasons", s.invalid_reasons);
        w.key("score_histogram").begin_object();
        for (std::size_t i = 1; i <= 5; ++i) w.kv(std::to_string(i), s.histogram[i]);
        w.end_object();
        w.kv("num_attempts", s.attempts);
        w.kv("num_retries", s.retries);
        w.kv_object("attempt_failures", s.attempt_failures);
        if (s.missing) w.kv("num_missing_judgements", s.missing);
        w.key("metadata").begin_object();
        w.kv("model", info_.judge);
        w.kv("format", info_.format);
        w.kv("prompt_version", info_.prompt_version);
        w.kv("retries", info_.retries);
        w.kv("max_new_tokens", info_.max_new_tokens);
        w.kv("temperature", info_.temperature);
        w.kv("top_p", info_.top_p);
        w.kv("seed", info_.seed);
        w.end_object();
    }

    void save(const state& s, io::binary_writer& w) const {
        for (std::uint64_t v : {s.total, s.valid, s.invalid, s.missing, s.attempts, s.retries,
                                s.score_sum})
            w.varint(v);
        for (std::uint64_t v : s.histogram) w.varint(v);
        for (const count_map* m : {&s.invalid_reasons, &s.attempt_failures}) {
            w.varint(m->size());
            for (const auto& [k, v] : *m) {
                w.str(k);
                w.varint(v);
            }
        }
    }

    void load(state& s, io::binary_reader& r) const {
        for (std::uint64_t* v : {&s.total, &s.valid, &s.invalid, &s.missing, &s.attempts,
                                 &s.retries, &s.score_sum})
            *v = r.varint("reward_model counter");
        for (auto& v : s.histogram) v = r.varint("reward_model histogram");
        for (count_map* m : {&s.invalid_reasons, &s.attempt_failures}) {
            m->clear();
            const std::uint64_t n = r.count(2, "reward_model reasons");
            for (std::uint64_t i = 0; i < n; ++i) {
                std::string k(r.str("reward_model reason"));
                (*m)[std::move(k)] = r.varint("reward_model reason count");
            }
            if (m->size() != n) r.fail("reward_model reasons");
        }
    }

    [[nodiscard]] const info& judge_info() const noexcept { return info_; }

  private:
    static void increment(count_map& m, std::string_view k) {
        auto it = m.find(k);
        if (it == m.end())
            m.emplace(std::string(k), 1);
        else
            ++it->second;
    }

    info info_;
};

static_assert(metric<rubric_metric>);

}  // namespace metrics
POLYGLOT_END_NAMESPACE
