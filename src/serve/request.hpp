// SPDX-License-Identifier: Apache-2.0
// polyglot serve, internal: OpenAI request parsing (vLLM's field names and defaults) into the
// backend's parameters, and the error replies a request that cannot be served gets.
#pragma once

#include <cstdint>
#include <polyglot/json/value.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace serve {

using analysis::json_value;

/// A request that cannot be served as asked: HTTP status + message.
struct http_error {
    int status;
    std::string message;
};

[[noreturn]] void bad_request(const std::string& msg);

/// OpenAI's error object: {"error": {message, type, code}}.
std::string error_json(int status, const std::string& message);

/// Writes a parsed JSON value back out (document order kept): schemas and chat messages are
/// passed on to the generator as JSON text.
void write_json(io::json_writer& w, const json_value& v);

// ---- request fields -------------------------------------------------------------------------

/// The member @p key of @p body, nullptr when absent or null.
const json_value* field(const json_value& body, std::string_view key);
bool get_bool(const json_value& b, std::string_view key, bool fallback);
double get_number(const json_value& b, std::string_view key, double fallback);
std::int64_t get_int(const json_value& b, std::string_view key, std::int64_t fallback);
/// A list of token ids (non-negative 32-bit integers); 400 otherwise.
std::vector<std::int32_t> token_ids(const json_value& v, std::string_view what);

/// A completions prompt: text or token ids.
struct prompt_item {
    bool ids = false;
    std::string text;
    std::vector<std::int32_t> tokens;
};

/// `prompt` = string | [string] | [int] | [[int]].
std::vector<prompt_item> parse_prompts(const json_value& body);

/// vLLM's sampling parameters of a completions (@p chat false) or chat completions request.
generate_params sampling_of(const json_value& b, bool chat);

}  // namespace serve
POLYGLOT_END_NAMESPACE
