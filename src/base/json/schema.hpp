// SPDX-License-Identifier: Apache-2.0
/// @file Validation of a JSON document against a JSON Schema (the subset structured generation
/// uses: type, enum, const, properties, required, additionalProperties, items, prefixItems,
/// min/maxItems, min/maxLength, pattern, minimum, maximum, exclusiveMinimum/Maximum,
/// multipleOf, anyOf, oneOf, allOf, not, and local $ref into #/$defs or #/definitions).
/// Unknown keywords are annotations and are ignored. Hand-written: Debian ships no C++ JSON
/// Schema validator, and the output must be checked on our side even when a server claims to
/// have constrained it.
#pragma once

#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

/// "" when @p instance (JSON text) follows @p schema (JSON text); else the first violation,
/// with its JSON Pointer ("/score: 7 is greater than the maximum 5"). A malformed schema or
/// instance is reported the same way ("the schema is not valid JSON", ...).
std::string validate_json_schema(std::string_view schema, std::string_view instance);

}  // namespace model
POLYGLOT_END_NAMESPACE
