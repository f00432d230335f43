// SPDX-License-Identifier: Apache-2.0
// What the analysis commands' JSON documents share (internal to src/analysis/).
#pragma once

#include <polyglot/io/json_writer.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis::detail {

/// Ends a result document: its "warnings" array, the outer object, and a final newline.
inline std::string finish_document(io::json_writer& w, const std::vector<std::string>& warnings) {
    w.key("warnings").begin_array();
    for (const auto& s : warnings) w.value(s);
    w.end_array();
    w.end_object();
    return w.take() + "\n";
}

}  // namespace analysis::detail
POLYGLOT_END_NAMESPACE
