// SPDX-License-Identifier: Apache-2.0
// A deterministic fake language model for the eval tests, defined identically in
// tests/oracles/eval_oracle.py: tokens = [1] (BOS, with specials) + [3 + byte] per UTF-8 byte;
// log p(ids[p] | ids[:p]) = float(-(h % 100003) / 10000 - 0.001) with h = FNV-1a 64 over
// ids[0..p] as 4-byte little-endian integers. A log-prob depends on the whole prefix, so it
// does not matter how sequences are batched or shared.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <polyglot/plugin/services.hpp>
#include <set>
#include <string>
#include <vector>

namespace eval_test {

class fake_scorer : public polyglot::scorer {
  public:
    /// Sequences containing @p poison (a token id) fail (call_hooks::item_error).
    std::int32_t poison = -1;
    std::size_t calls = 0;        ///< score_ids calls
    std::size_t max_batch = 0;    ///< largest number of sequences in one call
    std::size_t max_context = 0;  ///< sequences longer than this fail (0 = no limit)

    [[nodiscard]] std::string id() const override { return "fake"; }
    [[nodiscard]] std::string backend() const override { return "fake"; }
    void score(std::span<const std::string_view>, std::span<const std::string_view>,
               std::span<polyglot::lm_score>, const polyglot::call_hooks*) override {
        throw polyglot::unsupported_error("fake: no text SCORE");
    }
    std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view> texts,
                                                    bool add_special) override {
        return byte_ids(texts, add_special, [](unsigned char) { return true; });
    }
    /// The fake tokenization: BOS (1) where asked, then 3 + byte for each byte @p keep keeps.
    template <class Keep>
    static std::vector<std::vector<std::int32_t>> byte_ids(std::span<const std::string_view> texts,
                                                           bool add_special, Keep keep) {
        std::vector<std::vector<std::int32_t>> out;
        for (auto t : texts) {
            std::vector<std::int32_t> ids;
            if (add_special) ids.push_back(1);
            for (unsigned char c : t)
                if (keep(c)) ids.push_back(3 + c);
            out.push_back(std::move(ids));
        }
        return out;
    }
    static float logprob(const std::vector<std::int32_t>& ids, std::size_t p) {
        std::uint64_t h = 0xCBF29CE484222325ull;
        for (std::size_t i = 0; i <= p; ++i) {
            const auto v = static_cast<std::uint32_t>(ids[i]);
            for (int b = 0; b < 4; ++b) {
                h ^= (v >> (8 * b)) & 0xffu;
                h *= 0x100000001B3ull;
            }
        }
        return static_cast<float>(-static_cast<double>(h % 100003) / 10000.0 - 0.001);
    }
    void score_ids(std::span<const std::vector<std::int32_t>> seqs,
                   std::span<const std::size_t> score_from,
                   std::vector<std::vector<float>>& logprobs,
                   std::vector<std::vector<std::uint8_t>>* greedy,
                   const polyglot::call_hooks* hooks) override {
        ++calls;
        max_batch = std::max(max_batch, seqs.size());
        logprobs.assign(seqs.size(), {});
        if (greedy) greedy->assign(seqs.size(), {});
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            const auto& s = seqs[i];
            logprobs[i].assign(s.size(), std::numeric_limits<float>::quiet_NaN());
            if (greedy) (*greedy)[i].assign(s.size(), 0);
            bool bad = max_context && s.size() > max_context;
            for (auto id : s) bad = bad || id == poison;
            if (bad) {
                if (!hooks || !hooks->item_error)
                    throw polyglot::plugin_error("fake: sequence " + std::to_string(i));
                hooks->item_error(i, POLYGLOT_STATUS_INVALID_ARGUMENT, "fake: poisoned sequence");
                continue;
            }
            for (std::size_t p = std::max<std::size_t>(score_from[i], 1); p < s.size(); ++p) {
                logprobs[i][p] = logprob(s, p);
                if (greedy) (*greedy)[i][p] = (p % 3) != 0;
            }
        }
    }
};

/// A generator that answers each prompt with reply(first_index + i) and records the requests.
class fake_generator : public polyglot::generator {
  public:
    std::function<std::string(std::size_t)> reply;
    std::vector<std::vector<std::int32_t>> prompts;  ///< every prompt received, in order
    polyglot::generate_params last;
    [[nodiscard]] std::string id() const override { return "fake"; }
    [[nodiscard]] std::string backend() const override { return "fake"; }
    void generate(polyglot::prompt_kind kind, std::span<const std::string_view>,
                  std::span<const std::vector<std::int32_t>> prompt_ids, std::uint64_t first_index,
                  const polyglot::generate_params& params, std::span<polyglot::generation> out,
                  const polyglot::call_hooks*) override {
        if (kind != polyglot::prompt_kind::ids)
            throw polyglot::argument_error("fake: token-id prompts expected");
        last = params;
        for (std::size_t i = 0; i < prompt_ids.size(); ++i) {
            prompts.push_back(prompt_ids[i]);
            out[i].text = reply(first_index + i);
            if (out[i].text == "FAIL") {
                out[i].status = POLYGLOT_STATUS_UNAVAILABLE;
                out[i].error = "fake: server gone";
            }
        }
    }
    std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view> texts,
                                                    bool add_special) override {
        fake_scorer s;
        return s.tokenize(texts, add_special);
    }
};

}  // namespace eval_test
