// SPDX-License-Identifier: Apache-2.0
/// @file The score report: the JSON `polyglot score` and `polyglot merge` write (and a library
/// user can write): metadata, then one section per metric. One writer for all of them, so a
/// merged report has exactly the layout of a single run's.
#pragma once

#include <cstddef>
#include <polyglot/score/score.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

/// What the report's metadata says besides the run's own counters.
struct report_info {
    std::vector<std::string> inputs;  ///< as scored (after expanding directories and globs)
    std::string teacher;              ///< --teacher ("" = null)
    std::string lang;                 ///< --lang ("" = the most common record language)
    std::string tool_version;         ///< of the polyglot that scored the records
    std::size_t threads = 0;
    std::string shard;  ///< "K/N" for one shard's own report ("" = the whole input)
    /// Who computed the model values: backend_identity::json() objects (see add_backends).
    std::vector<std::string> backends;
    /// "true" / "false": whether special tokens written in the records were read as control
    /// tokens by the models (--parse-special); "" when no model read the texts.
    std::string parse_special;
};

/// Adds the identities in @p more to @p into, keeping it sorted with each object once (shards
/// and resumed runs may have run on other devices).
void add_backends(std::vector<std::string>& into, const std::vector<std::string>& more);

/// The report JSON (pretty-printed, with a final newline) of a finished run: metadata, then
/// one section per metric (write_sections).
std::string render_report(const report_info& info, const metric_bundle& bundle,
                          const run_result& res);

/// Compact JSON of metric @p k's section of a finished run.
std::string section_json(const metric_bundle& b, const run_result& r, std::size_t k);

/// The number stored under "key" in compact JSON text @p json (first occurrence), or NaN.
/// Enough for reading back our own finalized sections (and a model's info counters); not a
/// general JSON reader.
double find_number(std::string_view json, std::string_view key);

}  // namespace score
POLYGLOT_END_NAMESPACE
