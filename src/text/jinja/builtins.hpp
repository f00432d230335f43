// SPDX-License-Identifier: Apache-2.0
/// @file Filter and test tables of the Jinja interpreter. Private to src/text.
#pragma once

#include <polyglot/version.hpp>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

/// jinja2 3.1's filters (with transformers' tojson). `unsupported_filter` marks the ones this
/// interpreter does not implement: using one is an error.
enum class filter_kind : int {
    abs,
    batch,
    capitalize,
    center,
    count,
    default_,
    dictsort,
    escape,
    first,
    float_,
    forceescape,
    format,
    indent,
    int_,
    items,
    join,
    last,
    length,
    list,
    lower,
    map,
    max,
    min,
    reject,
    rejectattr,
    replace,
    reverse,
    round,
    safe,
    select,
    selectattr,
    sort,
    string,
    sum,
    title,
    tojson,
    trim,
    unique,
    upper,
    wordcount,
    unsupported_filter,  ///< attr, batch, filesizeformat, groupby, pprint, random, slice, ...
};

enum class test_kind : int {
    odd,
    even,
    divisibleby,
    defined,
    undefined,
    filter,
    test,
    none,
    boolean,
    false_,
    true_,
    integer,
    float_,
    lower,
    upper,
    string,
    mapping,
    number,
    sequence,
    iterable,
    callable,
    sameas,
    escaped,
    in,
    eq,
    ne,
    gt,
    ge,
    lt,
    le,
};

/// Id (a filter_kind) of a jinja2 filter, -1 when jinja2 has no such filter.
int filter_id(std::string_view name) noexcept;
/// Id (a test_kind) of a jinja2 test, -1 when jinja2 has no such test.
int test_id(std::string_view name) noexcept;
inline bool jinja2_has_filter(std::string_view name) noexcept { return filter_id(name) >= 0; }
inline bool jinja2_has_test(std::string_view name) noexcept { return test_id(name) >= 0; }

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
