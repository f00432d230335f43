// SPDX-License-Identifier: Apache-2.0
/// @file Hand-built records for metric tests. polyglot::record holds string_views, so the texts
/// are copied into storage that lives until the test program ends: callers may pass
/// temporaries (a braced list) without leaving the records dangling.
#pragma once

#include <cassert>
#include <deque>
#include <polyglot/core/record.hpp>
#include <string>
#include <vector>

namespace polyglot::testing {

/// Records i = (prompts[i], responses[i]) with line numbers 1..n.
inline std::vector<record> make_records(const std::vector<std::string>& prompts,
                                        const std::vector<std::string>& responses) {
    static std::deque<std::string> texts;  // deque: growing it never moves earlier strings
    assert(prompts.size() == responses.size());
    std::vector<record> v(prompts.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        v[i].prompt = texts.emplace_back(prompts[i]);
        v[i].response = texts.emplace_back(responses[i]);
        v[i].line = i + 1;
    }
    return v;
}

}  // namespace polyglot::testing
