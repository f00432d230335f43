// SPDX-License-Identifier: Apache-2.0
/// @file Name lookup in the Jinja interpreter's filter and test registries (filter_table in
/// filters.cpp, test_table in tests.cpp). The parser resolves a filter or test name once, to the
/// id that the renderer dispatches on. Private to src/text.
#pragma once

#include <cstddef>
#include <polyglot/version.hpp>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

/// Id of a jinja2 3.1 filter (with transformers' tojson) in the filter registry, -1 when jinja2
/// has no such filter. Some filters jinja2 has are not implemented: using one is an error.
int filter_id(std::string_view name) noexcept;
/// Id of a jinja2 3.1 test in the test registry, -1 when jinja2 has no such test.
int test_id(std::string_view name) noexcept;
inline bool jinja2_has_filter(std::string_view name) noexcept { return filter_id(name) >= 0; }
inline bool jinja2_has_test(std::string_view name) noexcept { return test_id(name) >= 0; }

/// Index of the entry named @p name in @p table (entries with a `name`), -1 when there is none:
/// the lookup of each registry (filters, tests, str methods).
template <class Entry, std::size_t N>
int registry_find(const Entry (&table)[N], std::string_view name) noexcept {
    for (std::size_t k = 0; k < N; ++k)
        if (table[k].name == name) return static_cast<int>(k);
    return -1;
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
