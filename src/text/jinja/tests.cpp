// SPDX-License-Identifier: Apache-2.0
// The tests of the Jinja renderer (`x is defined`, ...): jinja2 3.1's tests.py.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/builtins.hpp"
#include "text/jinja/pyunicode.hpp"
#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

bool renderer::call_test_node(const expr& e, const scope_ptr& sc) {
    value v = e.a ? eval(*e.a, sc) : value();
    arglist args = eval_args(e.call, sc);
    if (e.builtin < 0) runtime_fail("TemplateRuntimeError: No test named '" + e.name + "' found.");
    return call_test(static_cast<test_kind>(e.builtin), v, args);
}

bool renderer::call_test(test_kind t, const value& v, const arglist& args_in) {
    arglist a = args_in;
    using tk = test_kind;
    auto one = [&](const char* n) -> value {
        auto b = bind(n, a, {{"other", true}});
        return b[0].second;
    };
    auto none_args = [&](const char* n) { bind(n, a, {}); };
    switch (t) {
        case tk::defined:
            none_args("defined");
            return !v.is_undefined();
        case tk::undefined:
            none_args("undefined");
            return v.is_undefined();
        case tk::none:
            none_args("none");
            return v.is_none();
        case tk::boolean:
            none_args("boolean");
            return v.kind() == vk::boolean;
        case tk::false_:
            none_args("false");
            return v.kind() == vk::boolean && !v.as_bool();
        case tk::true_:
            none_args("true");
            return v.kind() == vk::boolean && v.as_bool();
        case tk::integer:
            none_args("integer");
            return v.kind() == vk::integer;
        case tk::float_:
            none_args("float");
            return v.kind() == vk::floating;
        case tk::string:
            none_args("string");
            return v.is_string();
        case tk::mapping:
            none_args("mapping");
            return v.kind() == vk::dict;
        case tk::number:
            none_args("number");
            return v.is_number();
        case tk::escaped:
            none_args("escaped");
            return v.is_markup();
        case tk::lower:
            none_args("lower");
            return py_islower(soft_str(v));
        case tk::upper:
            none_args("upper");
            return py_isupper(soft_str(v));
        case tk::sequence:
            none_args("sequence");
            switch (v.kind()) {
                case vk::undefined:
                case vk::string:
                case vk::dict:
                    return true;
                case vk::list:
                    return v.list().type == list_type::list || v.list().type == list_type::tuple ||
                           v.list().type == list_type::range;
                default:
                    return v.is_object(object_type::loop);
            }
        case tk::iterable:
            none_args("iterable");
            switch (v.kind()) {
                case vk::undefined:
                case vk::string:
                case vk::list:
                case vk::dict:
                    return true;
                case vk::object:
                    return v.is_object(object_type::generator) || v.is_object(object_type::loop);
                default:
                    return false;
            }
        case tk::callable:
            none_args("callable");
            if (v.is_undefined()) return true;
            return v.kind() == vk::object && (v.obj().type() == object_type::macro ||
                                              v.obj().type() == object_type::builtin ||
                                              v.obj().type() == object_type::bound_method);
        case tk::filter: {
            none_args("filter");
            return v.is_string() && jinja2_has_filter(v.str());
        }
        case tk::test: {
            none_args("test");
            return v.is_string() && jinja2_has_test(v.str());
        }
        case tk::odd:
        case tk::even: {
            none_args(t == tk::odd ? "odd" : "even");
            const value r = arith(ek::mod, v, value::integer(2));
            return t == tk::odd ? py_eq(r, value::integer(1)) : py_eq(r, value::integer(0));
        }
        case tk::divisibleby: {
            auto b = bind("divisibleby", a, {{"num", true}});
            return py_eq(arith(ek::mod, v, b[0].second), value::integer(0));
        }
        case tk::sameas: {
            const value o = one("sameas");
            if (v.kind() != o.kind()) {
                if (v.is_number() && o.is_number() && num_eq(v, o))
                    unsupported("'sameas' on numbers is not supported");
                return false;
            }
            switch (v.kind()) {
                case vk::none:
                case vk::undefined:
                    return v.is_none() || v.identity() == o.identity();
                case vk::boolean:
                    return v.as_bool() == o.as_bool();
                case vk::integer:
                    if (v.as_int() >= -5 && v.as_int() <= 256 && o.as_int() >= -5 &&
                        o.as_int() <= 256)
                        return v.as_int() == o.as_int();
                    unsupported("'sameas' on numbers is not supported");
                case vk::list:
                case vk::dict:
                case vk::object:
                    return v.identity() == o.identity();
                default:
                    unsupported("'sameas' on strings and floats is not supported");
            }
        }
        case tk::in:
            return contains(one("in"), v);
        case tk::eq:
            return py_eq(v, one("eq"));
        case tk::ne:
            return !py_eq(v, one("ne"));
        case tk::gt:
            return compare(cmp_op::gt, v, one("gt"));
        case tk::ge:
            return compare(cmp_op::gteq, v, one("ge"));
        case tk::lt:
            return compare(cmp_op::lt, v, one("lt"));
        case tk::le:
            return compare(cmp_op::lteq, v, one("le"));
    }
    return false;
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
