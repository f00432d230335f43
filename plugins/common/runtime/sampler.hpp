// SPDX-License-Identifier: Apache-2.0
/// @file Token sampling for GENERATE: the one place that decides how a next token is chosen
/// from a model's logits, for every backend.
///
/// Order (llama.cpp's and vLLM's parameters, transformers' order of logits processors):
/// repetition penalty → temperature → top-k → top-p → min-p → draw. temperature <= 0 is greedy
/// (argmax after the repetition penalty, lowest id on ties, as torch.argmax).
///
/// Randomness: each sequence owns a splitmix64 generator (Steele, Lea & Flood 2014, the
/// generator Java's SplittableRandom uses):
///     state += 0x9E3779B97F4A7C15
///     z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
///                z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^= z >> 31
/// seeded with state0 = mix(seed ^ mix(index + 0x9E3779B97F4A7C15)), mix being the three
/// finalizing lines above and `index` the sequence's job-wide index (first_index + i), so a
/// sequence's draws never depend on the other sequences, the thread count or how a job is
/// split into calls. One draw per sampled token: u = (z >> 11) · 2⁻⁵³ ∈ [0, 1). Candidates are
/// ordered by probability (descending, ties by id), probabilities are computed in double, and
/// the draw walks that order, so the result is the same on every platform with IEEE doubles.
#pragma once

#include <cstdint>
#include <polyglot/plugin/requests.hpp>
#include <polyglot/version.hpp>
#include <span>
#include <vector>

#include "common/runtime/device.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

/// splitmix64 (see the file comment).
class splitmix64 {
  public:
    static constexpr std::uint64_t golden = 0x9E3779B97F4A7C15ull;
    static constexpr std::uint64_t mix(std::uint64_t z) noexcept {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    /// The generator of sequence @p index of a job seeded with @p seed.
    constexpr splitmix64(std::uint64_t seed, std::uint64_t index) noexcept
        : state_(mix(seed ^ mix(index + golden))) {}
    constexpr std::uint64_t next() noexcept {
        state_ += golden;
        return mix(state_);
    }
    /// Uniform in [0, 1) with 53 random bits.
    constexpr double uniform() noexcept { return double(next() >> 11) * 0x1.0p-53; }

  private:
    std::uint64_t state_;
};

/// The host's sampling parameters (include/polyglot/plugin/requests.hpp).
using ::polyglot::sampling_params;

/// Chooses tokens for one sequence. Not thread-safe; one per sequence (cheap to create).
class sampler {
  public:
    sampler(const sampling_params& p, std::uint64_t seed, std::uint64_t index)
        : p_(p), rng_(seed, index) {}
    /// Tokens seen so far (prompt and generated) for the repetition penalty.
    void observe(std::span<const token_id> ids);
    void observe(token_id id);
    /// The next token given the model's @p logits (vocab floats).
    token_id sample(std::span<const float> logits);

  private:
    sampling_params p_;
    splitmix64 rng_;
    std::vector<token_id> seen_;  // sorted, unique (repetition penalty only)
    std::vector<float> penalized_;
    std::vector<std::pair<double, token_id>> cand_;
};

}  // namespace runtime
POLYGLOT_END_NAMESPACE
