// SPDX-License-Identifier: Apache-2.0
/// @file Host-side C++ forms of the ABI 1.1 requests (include/polyglot/plugin/abi.h): the
/// per-call hooks and the GENERATE parameters and results, shared by the plugin host
/// (host.hpp) and the services (services.hpp). No plugin or third-party header needed.
#pragma once

#include <polyglot/plugin/abi.h>

#include <cstdint>
#include <functional>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE

/// Per-call hooks (polyglot_call_context). Each callback is optional; they are called from
/// plugin threads, never concurrently.
struct call_hooks {
    /// items done of total, tokens processed so far.
    std::function<void(std::uint64_t done, std::uint64_t total, std::uint64_t tokens)> progress;
    /// Item @p index (within the call) failed. When set, the call goes on with the other items;
    /// when empty, the first failing item fails the whole call (an exception naming it).
    std::function<void(std::uint64_t index, polyglot_status status, std::string_view message)>
        item_error;
    /// Set *cancel to non-zero (e.g. from a signal handler) to stop the call early.
    const volatile std::int32_t* cancel = nullptr;
};

/// How a GENERATE prompt is given.
enum class prompt_kind : std::int32_t {
    text = POLYGLOT_PROMPT_TEXT,         ///< text, tokenized by the model
    ids = POLYGLOT_PROMPT_IDS,           ///< token ids, used as given
    messages = POLYGLOT_PROMPT_MESSAGES  ///< a JSON array of chat messages
};

/// How the next token is drawn (names as vLLM's SamplingParams / llama.cpp's): one struct from
/// the CLI and `polyglot serve` through the ABI request (set_sampling / sampling_of below) to
/// the remote client's request bodies and the runtime's sampler.
struct sampling_params {
    float temperature = 0.0f;         ///< <= 0: greedy
    std::int32_t top_k = 0;           ///< <= 0: off
    float top_p = 1.0f;               ///< >= 1: off
    float min_p = 0.0f;               ///< <= 0: off
    float repetition_penalty = 1.0f;  ///< 1: off; > 0
    [[nodiscard]] bool greedy() const noexcept { return !(temperature > 0.0f); }
    bool operator==(const sampling_params&) const = default;
};

/// The one copy of sampling_params into the ABI request's members...
inline void set_sampling(polyglot_generate_request& rq, const sampling_params& s) noexcept {
    rq.temperature = s.temperature;
    rq.top_k = s.top_k;
    rq.top_p = s.top_p;
    rq.min_p = s.min_p;
    rq.repetition_penalty = s.repetition_penalty;
}
/// ... and the one copy out of them (the plugin side).
inline sampling_params sampling_of(const polyglot_generate_request& rq) noexcept {
    sampling_params s;
    s.temperature = rq.temperature;
    s.top_k = rq.top_k;
    s.top_p = rq.top_p;
    s.min_p = rq.min_p;
    s.repetition_penalty = rq.repetition_penalty;
    return s;
}

/// Sampling and stopping for GENERATE (names as vLLM's SamplingParams / llama.cpp's).
struct generate_params : sampling_params {
    std::uint32_t max_new_tokens = 256;
    std::uint64_t seed = 0;
    std::vector<std::string> stop;       ///< stop strings (not part of the text)
    std::vector<std::int32_t> stop_ids;  ///< extra stop token ids
    bool logprobs = false;               ///< per-token log-probs of the generated ids
    bool ignore_eos = false;
    bool keep_special = false;          ///< keep special tokens in the text
    bool add_special = true;            ///< text prompts: add BOS etc.
    bool parse_special = false;         ///< text prompts: recognise special tokens
    bool add_generation_prompt = true;  ///< message prompts
    std::string json_schema;            ///< "" = unconstrained
    std::string extra_json;             ///< backend-specific JSON object, "" = none
};

/// One GENERATE outcome.
struct generation {
    std::string text;
    std::vector<std::int32_t> ids;
    std::vector<float> logprobs;  ///< with generate_params::logprobs
    std::int32_t finish_reason = POLYGLOT_FINISH_NONE;
    std::uint32_t prompt_tokens = 0;
    polyglot_status status = POLYGLOT_STATUS_OK;  ///< not OK: the item failed
    std::string error;                            ///< why, when status is not OK
    [[nodiscard]] bool ok() const noexcept { return status == POLYGLOT_STATUS_OK; }
};

/// "eos" | "stop" | "length" | "none".
inline const char* finish_reason_name(std::int32_t r) noexcept {
    switch (r) {
        case POLYGLOT_FINISH_EOS:
            return "eos";
        case POLYGLOT_FINISH_STOP:
            return "stop";
        case POLYGLOT_FINISH_LENGTH:
            return "length";
        default:
            return "none";
    }
}

POLYGLOT_END_NAMESPACE
