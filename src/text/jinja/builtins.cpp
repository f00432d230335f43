// SPDX-License-Identifier: Apache-2.0
// Name tables of jinja2 3.1's filters (jinja2/filters.py FILTERS, with transformers' tojson) and
// tests (jinja2/tests.py TESTS).
#include "text/jinja/builtins.hpp"

#include <string_view>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

int filter_id(std::string_view name) noexcept {
    using f = filter_kind;
    static constexpr std::pair<std::string_view, f> table[] = {
        {"abs", f::abs},
        {"attr", f::unsupported_filter},
        {"batch", f::batch},
        {"capitalize", f::capitalize},
        {"center", f::center},
        {"count", f::count},
        {"d", f::default_},
        {"default", f::default_},
        {"dictsort", f::dictsort},
        {"e", f::escape},
        {"escape", f::escape},
        {"filesizeformat", f::unsupported_filter},
        {"first", f::first},
        {"float", f::float_},
        {"forceescape", f::forceescape},
        {"format", f::format},
        {"groupby", f::unsupported_filter},
        {"indent", f::indent},
        {"int", f::int_},
        {"join", f::join},
        {"last", f::last},
        {"length", f::length},
        {"list", f::list},
        {"lower", f::lower},
        {"items", f::items},
        {"map", f::map},
        {"min", f::min},
        {"max", f::max},
        {"pprint", f::unsupported_filter},
        {"random", f::unsupported_filter},
        {"reject", f::reject},
        {"rejectattr", f::rejectattr},
        {"replace", f::replace},
        {"reverse", f::reverse},
        {"round", f::round},
        {"safe", f::safe},
        {"select", f::select},
        {"selectattr", f::selectattr},
        {"slice", f::unsupported_filter},
        {"sort", f::sort},
        {"string", f::string},
        {"striptags", f::unsupported_filter},
        {"sum", f::sum},
        {"title", f::title},
        {"trim", f::trim},
        {"truncate", f::unsupported_filter},
        {"unique", f::unique},
        {"upper", f::upper},
        {"urlencode", f::unsupported_filter},
        {"urlize", f::unsupported_filter},
        {"wordcount", f::wordcount},
        {"wordwrap", f::unsupported_filter},
        {"xmlattr", f::unsupported_filter},
        {"tojson", f::tojson},
    };
    for (const auto& [n, k] : table)
        if (n == name) return static_cast<int>(k);
    return -1;
}

int test_id(std::string_view name) noexcept {
    using t = test_kind;
    static constexpr std::pair<std::string_view, t> table[] = {
        {"odd", t::odd},
        {"even", t::even},
        {"divisibleby", t::divisibleby},
        {"defined", t::defined},
        {"undefined", t::undefined},
        {"filter", t::filter},
        {"test", t::test},
        {"none", t::none},
        {"boolean", t::boolean},
        {"false", t::false_},
        {"true", t::true_},
        {"integer", t::integer},
        {"float", t::float_},
        {"lower", t::lower},
        {"upper", t::upper},
        {"string", t::string},
        {"mapping", t::mapping},
        {"number", t::number},
        {"sequence", t::sequence},
        {"iterable", t::iterable},
        {"callable", t::callable},
        {"sameas", t::sameas},
        {"escaped", t::escaped},
        {"in", t::in},
        {"==", t::eq},
        {"eq", t::eq},
        {"equalto", t::eq},
        {"!=", t::ne},
        {"ne", t::ne},
        {">", t::gt},
        {"gt", t::gt},
        {"greaterthan", t::gt},
        {"ge", t::ge},
        {">=", t::ge},
        {"<", t::lt},
        {"lt", t::lt},
        {"lessthan", t::lt},
        {"<=", t::le},
        {"le", t::le},
    };
    for (const auto& [n, k] : table)
        if (n == name) return static_cast<int>(k);
    return -1;
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
