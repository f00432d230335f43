// SPDX-License-Identifier: Apache-2.0
/// @file Length metric (product.md §3 `length`): mean token count of prompts and responses
/// (the chosen tokenizer, no special tokens) with exact median / p90 / max, plus mean code
/// points, UTF-8 bytes and ICU words. Every sum is an integer, so results are exact and
/// independent of how records are split and merged.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <polyglot/core/assert.hpp>
#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/metrics/metric.hpp>
#include <polyglot/metrics/token_memo.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <polyglot/text/unicode.hpp>
#include <string>
#include <string_view>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

/// Exact histogram of non-negative integer values (value → frequency): memory grows with the
/// number of distinct values, not with the number of samples. Mergeable.
class count_histogram {
  public:
    void add(std::uint64_t v, std::uint64_t times = 1) {
        if (times == 0) return;
        counts_[v] += times;
        n_ += times;
    }
    void merge(const count_histogram& o) {
        for (const auto& [v, c] : o.counts_) counts_[v] += c;
        n_ += o.n_;
    }
    [[nodiscard]] std::uint64_t size() const noexcept { return n_; }
    /// The k-th smallest value (0-based, k < size()).
    [[nodiscard]] std::uint64_t kth(std::uint64_t k) const {
        std::uint64_t seen = 0;
        for (const auto& [v, c] : counts_) {
            seen += c;
            if (k < seen) return v;
        }
        return counts_.empty() ? 0 : counts_.rbegin()->first;
    }
    /// The q-quantile (q in [0, 1]) with linear interpolation between order statistics
    /// (numpy.percentile's default); NaN when empty.
    [[nodiscard]] double quantile(double q) const {
        if (n_ == 0) return std::numeric_limits<double>::quiet_NaN();
        const double pos = q * static_cast<double>(n_ - 1);
        const auto lo = static_cast<std::uint64_t>(std::floor(pos));
        const std::uint64_t hi = std::min<std::uint64_t>(lo + 1, n_ - 1);
        const double a = static_cast<double>(kth(lo));
        const double b = static_cast<double>(kth(hi));
        return a + (b - a) * (pos - static_cast<double>(lo));
    }
    [[nodiscard]] double max() const {
        return counts_.empty() ? std::numeric_limits<double>::quiet_NaN()
                               : static_cast<double>(counts_.rbegin()->first);
    }
    friend bool operator==(const count_histogram&, const count_histogram&) = default;

    /// (value delta, count) pairs in value order, as varints.
    void save(io::binary_writer& w) const {
        w.varint(counts_.size());
        std::uint64_t prev = 0;
        for (const auto& [v, c] : counts_) {
            w.varint(v - prev);
            w.varint(c);
            prev = v;
        }
    }
    void load(io::binary_reader& r) {
        counts_.clear();
        n_ = 0;
        const std::uint64_t k = r.count(2, "histogram size");
        std::uint64_t v = 0;
        for (std::uint64_t i = 0; i < k; ++i) {
            const std::uint64_t delta = r.varint("histogram value");
            if (i > 0 && delta == 0) r.fail("histogram value");
            v += delta;
            const std::uint64_t c = r.varint("histogram count");
            if (c == 0) r.fail("histogram count");
            counts_.emplace_hint(counts_.end(), v, c);
            n_ += c;
        }
    }

  private:
    std::map<std::uint64_t, std::uint64_t> counts_;
    std::uint64_t n_ = 0;
};

class length_metric {
  public:
    static constexpr std::string_view name = "length";

    struct side {
        count_histogram tokens;
        std::uint64_t n = 0;
        std::uint64_t token_sum = 0;
        std::uint64_t code_points = 0;
        std::uint64_t bytes = 0;
        std::uint64_t words = 0;
        friend bool operator==(const side&, const side&) = default;
    };
    struct state {
        side prompts, responses;
        friend bool operator==(const state&, const state&) = default;
    };

    /// @param tok the tokenizer (shared, immutable); @param words also count ICU words (the
    /// most expensive part after tokenizing).
    explicit length_metric(std::shared_ptr<const text::tokenizer> tok, bool words = true)
        : tok_(std::move(tok)), tokenizer_name_(tok_ ? tok_->name() : std::string()),
          words_(words) {}
    /// A metric that can merge, load and finalize states (polyglot merge) but not accumulate:
    /// it knows the tokenizer by name only.
    static length_metric named(std::string tokenizer_name, bool words = true) {
        length_metric m(nullptr, words);
        m.tokenizer_name_ = std::move(tokenizer_name);
        return m;
    }

    [[nodiscard]] state make_state() const { return {}; }

    void accumulate(state& s, const record& r, instance_values& iv) const {
        iv.add("prompt_tokens", static_cast<std::int64_t>(add(s.prompts, r.prompt)));
        iv.add("response_tokens", static_cast<std::int64_t>(add(s.responses, r.response)));
    }

    void merge(state& a, const state& b) const {
        merge_side(a.prompts, b.prompts);
        merge_side(a.responses, b.responses);
    }

    void finalize(const state& s, io::json_writer& w) const {
        w.kv("prompts_average_length", mean(s.prompts.token_sum, s.prompts.n));
        w.kv("responses_average_length", mean(s.responses.token_sum, s.responses.n));
        write_side(w, "prompts", s.prompts);
        write_side(w, "responses", s.responses);
        w.kv("tokenizer", tokenizer_name_);
    }

    void save(const state& s, io::binary_writer& w) const {
        for (const side* sd : {&s.prompts, &s.responses}) {
            for (std::uint64_t v : {sd->n, sd->token_sum, sd->code_points, sd->bytes, sd->words})
                w.varint(v);
            sd->tokens.save(w);
        }
    }

    void load(state& s, io::binary_reader& r) const {
        for (side* sd : {&s.prompts, &s.responses}) {
            for (std::uint64_t* v :
                 {&sd->n, &sd->token_sum, &sd->code_points, &sd->bytes, &sd->words})
                *v = r.varint("length counter");
            sd->tokens.load(r);
            if (sd->tokens.size() != sd->n) r.fail("length histogram total");
        }
    }

    [[nodiscard]] const text::tokenizer& tokenizer() const noexcept { return *tok_; }

  private:
    std::uint64_t add(side& sd, std::string_view text) const {
        POLYGLOT_ASSERT(tok_);
        const std::uint64_t t = encode_memo(*tok_, text).size();
        sd.tokens.add(t);
        ++sd.n;
        sd.token_sum += t;
        sd.bytes += text.size();
        sd.code_points += text::count_code_points(text);
        if (words_) sd.words += text::count_words(text);
        return t;
    }
    static void merge_side(side& a, const side& b) {
        a.tokens.merge(b.tokens);
        a.n += b.n;
        a.token_sum += b.token_sum;
        a.code_points += b.code_points;
        a.bytes += b.bytes;
        a.words += b.words;
    }
    static double mean(std::uint64_t sum, std::uint64_t n) {
        return n ? static_cast<double>(sum) / static_cast<double>(n)
                 : std::numeric_limits<double>::quiet_NaN();
    }
    void write_side(io::json_writer& w, const std::string& p, const side& sd) const {
        w.kv(p + "_median_length", sd.tokens.quantile(0.5));
        w.kv(p + "_p90_length", sd.tokens.quantile(0.9));
        w.kv(p + "_max_length", sd.tokens.max());
        w.kv(p + "_average_code_points", mean(sd.code_points, sd.n));
        w.kv(p + "_average_bytes", mean(sd.bytes, sd.n));
        if (words_) w.kv(p + "_average_words", mean(sd.words, sd.n));
    }

    std::shared_ptr<const text::tokenizer> tok_;
    std::string tokenizer_name_;
    bool words_;
};

static_assert(metric<length_metric>);

}  // namespace metrics
POLYGLOT_END_NAMESPACE
