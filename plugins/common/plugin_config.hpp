// SPDX-License-Identifier: Apache-2.0
/// @file Reading the `create` config JSON that the host passes to every backend plugin:
/// typed fields with one error wording, shared by the cpu and cuda plugins.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <polyglot/core/error.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

/// Parses the config JSON into an object (kept alive by @p parser); argument_error otherwise.
inline simdjson::dom::object parse_config(simdjson::dom::parser& parser,
                                          std::string_view config_json) {
    simdjson::dom::element doc;
    if (auto err = parser.parse(config_json.data(), config_json.size()).get(doc))
        throw argument_error(std::string("config is not valid JSON: ") +
                             simdjson::error_message(err));
    simdjson::dom::object obj;
    if (doc.get(obj) != simdjson::SUCCESS) throw argument_error("config must be a JSON object");
    return obj;
}

/// A non-negative integer field, or @p fallback when absent; argument_error otherwise.
inline std::size_t config_size(simdjson::dom::object& obj, const char* key, std::size_t fallback) {
    auto v = obj[key];
    if (v.error() == simdjson::NO_SUCH_FIELD) return fallback;
    std::uint64_t u = 0;
    if (v.get(u) != simdjson::SUCCESS)
        throw argument_error(std::string("config: '") + key + "' must be a non-negative integer");
    return static_cast<std::size_t>(u);
}

/// A boolean field, or @p fallback when absent; argument_error otherwise.
inline bool config_bool(simdjson::dom::object& obj, const char* key, bool fallback) {
    auto v = obj[key];
    if (v.error() == simdjson::NO_SUCH_FIELD) return fallback;
    bool b = false;
    if (v.get(b) != simdjson::SUCCESS)
        throw argument_error(std::string("config: '") + key + "' must be true or false");
    return b;
}

/// A string field, or "" when absent; argument_error when it is not a string.
inline std::string config_string(simdjson::dom::object& obj, const char* key) {
    auto v = obj[key];
    if (v.error() == simdjson::NO_SUCH_FIELD) return {};
    std::string_view s;
    if (v.get(s) != simdjson::SUCCESS)
        throw argument_error(std::string("config: '") + key + "' must be a string");
    return std::string(s);
}

}  // namespace model
POLYGLOT_END_NAMESPACE
