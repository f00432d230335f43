// SPDX-License-Identifier: Apache-2.0
/// @file Small simdjson helpers the reply parsers share (dialect.cpp, server_kinds.cpp): each
/// returns "" or the reason a reply is unusable.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <polyglot/io/json_writer.hpp>
#include <span>
#include <string>

#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace remote::reply {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// Parses @p body (padded by the client) into @p doc; the reason when it is not JSON.
inline std::string parse_body(simdjson::dom::parser& p, const std::string& body, element& doc) {
    if (auto err = p.parse(body).get(doc))
        return std::string("not valid JSON (") + simdjson::error_message(err) + ")";
    return {};
}

/// A number of any JSON numeric type; nullopt otherwise.
inline std::optional<double> number(element e) { return ::polyglot::model::as_number(e); }

inline std::optional<std::int64_t> integer(element e) {
    std::int64_t i;
    if (!e.get(i)) return i;
    std::uint64_t u;
    if (!e.get(u) && u <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
        return std::int64_t(u);
    return std::nullopt;
}

/// The first choice of an OpenAI-style reply.
inline std::string first_choice(element doc, object& choice) {
    array choices;
    if (doc["choices"].get(choices)) return "no 'choices' array";
    if (choices.size() == 0) return "empty 'choices'";
    if ((*choices.begin()).get(choice)) return "choices[0] is not an object";
    return {};
}

inline void ids_value(io::json_writer& w, std::span<const std::int32_t> ids) {
    w.begin_array();
    for (auto id : ids) w.value(id);
    w.end_array();
}

}  // namespace remote::reply
POLYGLOT_END_NAMESPACE
