// SPDX-License-Identifier: Apache-2.0
/// @file The OpenAI / vLLM completions vocabulary that both ends share: `polyglot serve`
/// (src/serve) reads requests and writes replies in it, the remote backend (plugins/remote)
/// writes requests and reads replies in it. Header-only, in polyglot_base (the layer both
/// libpolyglot and the plugins use); included as "base/openai/openai.hpp". The sampling members
/// of a request are generate_params (polyglot/plugin/requests.hpp).
#pragma once

#include <polyglot/plugin/abi.h>

#include <cstdint>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace openai {

/// One completions prompt: text, or token ids used as given.
struct prompt {
    bool ids = false;
    std::string text;
    std::vector<std::int32_t> tokens;
};

/// One generated sequence as a completions or chat completions reply carries it.
struct choice {
    std::string text;
    std::vector<std::int32_t> ids;  ///< token_ids; empty when the server does not return them
    std::vector<float> logprobs;    ///< when asked and returned
    std::int32_t finish = 0;        ///< POLYGLOT_FINISH_*
    std::uint32_t prompt_tokens = 0;
    std::string refusal;  ///< finish_reason the caller must treat as a failure
};

/// The finish_reason of a sequence that ended with @p finish (POLYGLOT_FINISH_*), as vLLM writes
/// it: "length", else "stop" (EOS, a stop string or a stop id; stop_reason tells them apart).
inline const char* finish_reason(std::int32_t finish) noexcept {
    return finish == POLYGLOT_FINISH_LENGTH ? "length" : "stop";
}

/// The POLYGLOT_FINISH_* of a reply's @p reason; @p stop_string: its stop_reason is a string.
/// False for a reason the caller must treat as a failure (content_filter, abort, ...).
inline bool finish_of(std::string_view reason, bool stop_string, std::int32_t& finish) noexcept {
    if (reason == "length") {
        finish = POLYGLOT_FINISH_LENGTH;
        return true;
    }
    if (reason == "stop" || reason == "eos" || reason == "tool_calls" ||
        reason == "function_call") {
        // vLLM's stop_reason: a string when a stop string ended the text, an int for a stop
        // token id, null for EOS. Servers without stop_reason: "stop" is reported as EOS.
        finish = stop_string ? POLYGLOT_FINISH_STOP : POLYGLOT_FINISH_EOS;
        return true;
    }
    return false;
}

}  // namespace openai
POLYGLOT_END_NAMESPACE
