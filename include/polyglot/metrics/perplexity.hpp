// SPDX-License-Identifier: Apache-2.0
/// @file Perplexity (product.md §3 `perplexity`) from the LM scores the pipeline attached to
/// each record (`record.lm`). Per record: mean_nll = sum_nll / n_scored and perplexity =
/// exp(mean_nll). Reported: `average_perplexity` (mean over records of per-record perplexity,
/// the paper's convention), `corpus_perplexity` (exp(Σ nll / Σ tokens)), `bits_per_byte`
/// (Σ nll / ln 2 / Σ response UTF-8 bytes). Records with no scored token, a NaN or an infinite
/// value, or a failed model call are excluded and counted. The sums of doubles are exact
/// (exact_sum), so states merge to bit-identical reports however the records were split
/// (threads, chunks, shards, resumes).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/metrics/exact_sum.hpp>
#include <polyglot/metrics/metric.hpp>
#include <string>
#include <string_view>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

class perplexity_metric {
  public:
    static constexpr std::string_view name = "perplexity";

    struct state {
        std::uint64_t total = 0;       ///< records seen
        std::uint64_t valid = 0;       ///< records with a finite perplexity
        std::uint64_t nan = 0;         ///< NaN mean NLL
        std::uint64_t inf = 0;         ///< infinite mean NLL or perplexity overflow
        std::uint64_t no_tokens = 0;   ///< no scored response token
        std::uint64_t missing = 0;     ///< no LM score attached
        std::uint64_t failed = 0;      ///< the model (server) call failed: no value
        std::uint64_t truncated = 0;   ///< cut to --max-tokens
        exact_sum sum_perplexity;      ///< over valid records
        exact_sum sum_nll;             ///< over valid records
        std::uint64_t sum_tokens = 0;  ///< scored tokens of valid records
        std::uint64_t sum_bytes = 0;   ///< response bytes of valid records
        friend bool operator==(const state&, const state&) = default;
    };

    /// @param model identity of the scoring model (report's `base_model`).
    explicit perplexity_metric(std::string model = {}) : model_(std::move(model)) {}

    [[nodiscard]] state make_state() const { return {}; }

    void accumulate(state& s, const record& r, instance_values& iv) const {
        ++s.total;
        iv.add("response_bytes", static_cast<std::int64_t>(r.response.size()));
        if (!r.lm) {
            ++s.missing;
            return;
        }
        const lm_score& lm = *r.lm;
        if (lm.failed) {
            ++s.failed;  // counted, never given a made-up value (the pipeline reports why)
            return;
        }
        if (lm.truncated) ++s.truncated;
        if (lm.n_scored == 0) {
            ++s.no_tokens;
            iv.add("mean_nll", std::numeric_limits<double>::quiet_NaN());
            iv.add("perplexity", std::numeric_limits<double>::quiet_NaN());
            return;
        }
        const double mean_nll = lm.sum_nll / lm.n_scored;
        const double ppl = std::exp(mean_nll);
        iv.add("mean_nll", mean_nll);
        iv.add("perplexity", ppl);
        if (std::isnan(mean_nll) || std::isnan(ppl)) {
            ++s.nan;
        } else if (!std::isfinite(mean_nll) || !std::isfinite(ppl)) {
            ++s.inf;
        } else {
            ++s.valid;
            s.sum_perplexity.add(ppl);
            s.sum_nll.add(lm.sum_nll);
            s.sum_tokens += lm.n_scored;
            s.sum_bytes += r.response.size();
        }
    }

    void merge(state& a, const state& b) const {
        a.total += b.total;
        a.valid += b.valid;
        a.nan += b.nan;
        a.inf += b.inf;
        a.no_tokens += b.no_tokens;
        a.missing += b.missing;
        a.failed += b.failed;
        a.truncated += b.truncated;
        a.sum_perplexity.merge(b.sum_perplexity);
        a.sum_nll.merge(b.sum_nll);
        a.sum_tokens += b.sum_tokens;
        a.sum_bytes += b.sum_bytes;
    }

    void finalize(const state& s, io::json_writer& w) const {
        constexpr double nan = std::numeric_limits<double>::quiet_NaN();
        const double sum_ppl = s.sum_perplexity.value(), sum_nll = s.sum_nll.value();
        w.kv("average_perplexity", s.valid ? sum_ppl / static_cast<double>(s.valid) : nan);
        w.kv("corpus_perplexity",
             s.sum_tokens ? std::exp(sum_nll / static_cast<double>(s.sum_tokens)) : nan);
        w.kv("bits_per_byte",
             s.sum_bytes ? sum_nll / std::numbers::ln2 / static_cast<double>(s.sum_bytes) : nan);
        w.kv("base_model", model_);
        w.kv("total_samples", s.total);
        w.kv("num_valid_samples", s.valid);
        w.kv("num_nan_values", s.nan);
        w.kv("num_inf_values", s.inf);
        w.kv("num_no_scored_tokens", s.no_tokens);
        w.kv("num_truncated", s.truncated);
        w.kv("scored_tokens", s.sum_tokens);
        if (s.missing) w.kv("num_missing_scores", s.missing);
        w.kv("num_failed", s.failed);
    }

    void save(const state& s, io::binary_writer& w) const {
        for (std::uint64_t v : {s.total, s.valid, s.nan, s.inf, s.no_tokens, s.missing, s.failed,
                                s.truncated, s.sum_tokens, s.sum_bytes})
            w.varint(v);
        s.sum_perplexity.save(w);
        s.sum_nll.save(w);
    }

    void load(state& s, io::binary_reader& r) const {
        for (std::uint64_t* v : {&s.total, &s.valid, &s.nan, &s.inf, &s.no_tokens, &s.missing,
                                 &s.failed, &s.truncated, &s.sum_tokens, &s.sum_bytes})
            *v = r.varint("perplexity counter");
        s.sum_perplexity.load(r);
        s.sum_nll.load(r);
    }

  private:
    std::string model_;
};

static_assert(metric<perplexity_metric>);

}  // namespace metrics
POLYGLOT_END_NAMESPACE
