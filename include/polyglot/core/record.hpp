// SPDX-License-Identifier: Apache-2.0
/// @file One SFT record as the metrics see it, and the per-record values they emit.
#pragma once

#include <polyglot/version.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE

/// Log-likelihood of a response given its prompt under a language model (SCORE capability).
struct lm_score {
    double sum_nll = 0;                ///< sum of -log p over scored response tokens (nats)
    std::uint32_t n_scored = 0;        ///< number of response tokens scored
    std::uint32_t prompt_tokens = 0;   ///< prompt tokens after truncation (with specials)
    std::uint32_t response_tokens = 0; ///< response tokens after truncation
    bool truncated = false;            ///< the input was cut to the model's --max-tokens
    bool failed = false;               ///< the model or server call failed for this record
    std::string error = {};            ///< why, when failed (names no secret)
};

/// A record: views into the reader's buffer, valid only while the record's chunk is alive.
/// Model outputs (embeddings, LM scores) are attached by the pipeline before metrics run;
/// a metric that needs one asserts it is present.
struct record {
    std::string_view prompt;
    std::string_view response;
    std::string_view lang;   ///< target language code ("" if unknown)
    std::string_view id;     ///< the record's own id, "" if none
    std::uint64_t line = 0;  ///< 1-based line in its input file
    std::uint32_t file = 0;  ///< index of the input file
    std::uint64_t index = 0; ///< 0-based index among scored records (input order)

    const float* prompt_embedding = nullptr;    ///< dim floats, or null
    const float* response_embedding = nullptr;  ///< dim floats, or null
    std::uint32_t embedding_dim = 0;
    const lm_score* lm = nullptr;               ///< or null
};

/// Per-record values a metric contributes to `--per-instance` output, in insertion order.
class instance_values {
public:
    using value_type = std::variant<double, std::int64_t, std::string>;

    void add(std::string_view key, double v) { items_.emplace_back(std::string(key), v); }
    void add(std::string_view key, std::int64_t v) { items_.emplace_back(std::string(key), v); }
    void add(std::string_view key, std::string_view v) {
        items_.emplace_back(std::string(key), std::string(v));
    }
    void clear() { items_.clear(); }
    [[nodiscard]] const std::vector<std::pair<std::string, value_type>>& items() const {
        return items_;
    }

private:
    std::vector<std::pair<std::string, value_type>> items_;
};

POLYGLOT_END_NAMESPACE
