// SPDX-License-Identifier: Apache-2.0
/// @file The known-answer self-test a backend runs before it is used (issue 15): small models
/// with weights from a fixed seed, built in memory for each architecture path a backend must get
/// right — Llama with grouped-query attention and biases, Qwen3 with q/k norms, Gemma 3 with
/// sandwich norms, sliding-window layers and soft-capping, and a bidirectional EmbeddingGemma
/// encoder — are run on the device under test and on the reference forward pass
/// (runtime/reference_device.hpp, double precision), and their log-probs, greedy flags, full
/// logits and pooled states compared within stated tolerances. Devices with a KV cache are also
/// run in cached passes (prefill chunks and single-token decode steps over scattered blocks,
/// two sequences per pass at different positions) and must give the same answers.
///
/// The result names every check with its largest error and its limit, so a failing backend can
/// say exactly what is wrong; a plugin reports itself unusable when its self-test fails, and
/// `--backend auto` then never picks it (docs/plugin-abi.md, "Self-test").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "common/model_config.hpp"
#include "common/runtime/device.hpp"
#include "common/safetensors.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime::self_test {

/// The architecture paths of the known-answer models.
enum class arch_path {
    llama_gqa_bias,
    qwen3_qk_norm,
    gemma3_sliding_softcap,
    gemma3_bidirectional
};
inline constexpr arch_path all_paths[] = {arch_path::llama_gqa_bias, arch_path::qwen3_qk_norm,
                                          arch_path::gemma3_sliding_softcap,
                                          arch_path::gemma3_bidirectional};

/// One small model: its config.json and its weights (a safetensors image), both in memory.
struct known_model {
    std::string name;  ///< e.g. "gemma3-sliding-softcap/bf16/head_dim=256"
    arch_path path = arch_path::llama_gqa_bias;
    std::string config_json;
    std::string safetensors;
    model::model_config config;  ///< parsed from config_json
    model::weight_set weights;   ///< over safetensors
};

/// Builds the model of @p path with heads of @p head_dim (even, ≥ 8) and weights stored as
/// @p weights (f32, f16 or bf16), from a fixed seed: the same bytes on every run.
known_model make_model(arch_path path, std::int64_t head_dim, model::dtype weights);

/// The path whose known-answer model is closest to a real model's config (for testing a
/// backend on the head size and features of the model it is about to load).
arch_path closest_path(const model::model_config& cfg);

/// Limits of one comparison with the double-precision reference.
struct tolerance {
    double logprob = 0;  ///< |Δ log p| (log-probs, and log-softmax of full logits)
    double hidden = 0;   ///< |Δ| of pooled states relative to max(1, max |reference|)
};
/// The stated tolerances for a compute type: f32 (and f64) devices, or 16-bit ones (bf16 /
/// f16 activations, f32 accumulation). See self_test.cpp for how they were chosen.
tolerance tolerance_for(model::dtype compute);

/// One comparison.
struct check {
    std::string model;  ///< known_model::name
    std::string what;   ///< "log-probs (packed pass)", "greedy flags", ...
    double error = 0;   ///< largest error seen (a count for flags)
    double limit = 0;
    [[nodiscard]] bool passed() const noexcept { return error <= limit; }
};

struct result {
    std::vector<check> checks;
    std::vector<std::string> failures;  ///< device errors (exceptions) while testing
    [[nodiscard]] bool passed() const noexcept;
    /// "passed: 4 models, 27 checks (largest error/limit 0.12)" or "FAILED: MODEL WHAT: error
    /// E > limit L; ..." (every failed check, with its numbers).
    [[nodiscard]] std::string summary() const;
    /// {"status": "passed"|"failed", "summary": ..., "checks": [{"model", "what", "error",
    /// "limit", "passed"}...], "failures": [...]}
    [[nodiscard]] std::string json() const;
    void append(const result& other);
};

/// Builds the device under test for a known model (a backend's own loader).
using device_factory = std::function<std::unique_ptr<device_model>(const known_model&)>;

/// Runs @p m on the device @p make builds and on the reference, compares within @p tol.
/// Never throws for a device failure: it becomes one of result::failures.
result run(const known_model& m, const device_factory& make, const tolerance& tol);

/// The check a backend runs when it loads a model of config @p c: the known-answer model of
/// the closest path (closest_path) with the model's head size (made even, at least 8) and
/// weights stored as @p weights, on the device @p make builds.
result run_for(const model::model_config& c, model::dtype weights, const device_factory& make,
               const tolerance& tol);

/// Every architecture path with heads of @p head_dim and weights stored as @p weights.
result run_all(std::int64_t head_dim, model::dtype weights, const device_factory& make,
               const tolerance& tol);

/// The get_proc_address extension through which a plugin that runs the self-test reports its
/// verdict (no ABI bump): `const char* f(void)`, returning result::json() of the plugin's
/// self-test, valid for the life of the process. `polyglot backends` shows it.
inline constexpr const char* verdict_proc_name = "polyglot_self_test_v1";
using verdict_proc = const char* (*)();

/// A plugin's own self-test, run once per process on first use (thread-safe) and kept: what
/// the plugin's score, unusable_reason and verdict extension report. A plugin whose self-test
/// failed scores 0, so `--backend auto` never picks it, and says why with the numbers.
class plugin_verdict {
  public:
    /// @p run runs the self-test on the plugin's device; an exception it throws becomes a
    /// failure of the result.
    explicit plugin_verdict(std::function<result()> run) : run_(std::move(run)) {}
    [[nodiscard]] const result& get() const;
    [[nodiscard]] bool passed() const { return get().passed(); }
    /// "" when the self-test passed, else "self-test FAILED: ..." with every failed check.
    [[nodiscard]] const std::string& reason() const;
    /// result::json() (the verdict extension's answer).
    [[nodiscard]] const char* json() const;

  private:
    void compute() const;
    std::function<result()> run_;
    mutable std::once_flag once_;
    mutable result result_;
    mutable std::string reason_, json_;
};

}  // namespace runtime::self_test
POLYGLOT_END_NAMESPACE
