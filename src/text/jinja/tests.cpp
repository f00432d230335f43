// SPDX-License-Identifier: Apache-2.0
// The tests of the Jinja renderer (`x is defined`, ...): jinja2 3.1's tests.py, one function per
// test, looked up by name in test_table (at the end of this file).
#include <string_view>

#include "text/jinja/builtins.hpp"
#include "text/jinja/pyunicode.hpp"
#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

namespace {

/// A test that takes no argument.
void no_args(renderer& rd, arglist& a, const char* name) { rd.bind(name, a, {}); }

/// The one argument (`other`) of a comparison test.
value one_arg(renderer& rd, arglist& a, const char* name) {
    auto b = rd.bind(name, a, {{"other", true}});
    return b[0].second;
}

bool test_defined(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "defined");
    return !v.is_undefined();
}

bool test_undefined(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "undefined");
    return v.is_undefined();
}

bool test_none(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "none");
    return v.is_none();
}

bool test_boolean(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "boolean");
    return v.kind() == vk::boolean;
}

bool test_false(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "false");
    return v.kind() == vk::boolean && !v.as_bool();
}

bool test_true(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "true");
    return v.kind() == vk::boolean && v.as_bool();
}

bool test_integer(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "integer");
    return v.kind() == vk::integer;
}

bool test_float(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "float");
    return v.kind() == vk::floating;
}

bool test_string(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "string");
    return v.is_string();
}

bool test_mapping(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "mapping");
    return v.kind() == vk::dict;
}

bool test_number(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "number");
    return v.is_number();
}

bool test_escaped(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "escaped");
    return v.is_markup();
}

bool test_lower(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "lower");
    return py_islower(soft_str(v));
}

bool test_upper(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "upper");
    return py_isupper(soft_str(v));
}

bool test_sequence(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "sequence");
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
}

bool test_iterable(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "iterable");
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
}

bool test_callable(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "callable");
    if (v.is_undefined()) return true;
    return v.kind() == vk::object &&
           (v.obj().type() == object_type::macro || v.obj().type() == object_type::builtin ||
            v.obj().type() == object_type::bound_method);
}

bool test_filter(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "filter");
    return v.is_string() && jinja2_has_filter(v.str());
}

bool test_test(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "test");
    return v.is_string() && jinja2_has_test(v.str());
}

bool test_odd(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "odd");
    const value r = rd.arith(ek::mod, v, value::integer(2));
    return py_eq(r, value::integer(1));
}

bool test_even(renderer& rd, const value& v, arglist& a) {
    no_args(rd, a, "even");
    const value r = rd.arith(ek::mod, v, value::integer(2));
    return py_eq(r, value::integer(0));
}

bool test_divisibleby(renderer& rd, const value& v, arglist& a) {
    auto b = rd.bind("divisibleby", a, {{"num", true}});
    return py_eq(rd.arith(ek::mod, v, b[0].second), value::integer(0));
}

bool test_sameas(renderer& rd, const value& v, arglist& a) {
    const value o = one_arg(rd, a, "sameas");
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
            if (v.as_int() >= -5 && v.as_int() <= 256 && o.as_int() >= -5 && o.as_int() <= 256)
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

bool test_in(renderer& rd, const value& v, arglist& a) {
    return rd.contains(one_arg(rd, a, "in"), v);
}

bool test_eq(renderer& rd, const value& v, arglist& a) { return py_eq(v, one_arg(rd, a, "eq")); }

bool test_ne(renderer& rd, const value& v, arglist& a) { return !py_eq(v, one_arg(rd, a, "ne")); }

bool test_gt(renderer& rd, const value& v, arglist& a) {
    return rd.compare(cmp_op::gt, v, one_arg(rd, a, "gt"));
}

bool test_ge(renderer& rd, const value& v, arglist& a) {
    return rd.compare(cmp_op::gteq, v, one_arg(rd, a, "ge"));
}

bool test_lt(renderer& rd, const value& v, arglist& a) {
    return rd.compare(cmp_op::lt, v, one_arg(rd, a, "lt"));
}

bool test_le(renderer& rd, const value& v, arglist& a) {
    return rd.compare(cmp_op::lteq, v, one_arg(rd, a, "le"));
}

using test_fn = bool (*)(renderer& rd, const value& v, arglist& a);

struct test_entry {
    std::string_view name;
    test_fn fn;
};

/// jinja2 3.1's tests (jinja2/tests.py TESTS), by name.
constexpr test_entry test_table[] = {
    {"odd", test_odd},
    {"even", test_even},
    {"divisibleby", test_divisibleby},
    {"defined", test_defined},
    {"undefined", test_undefined},
    {"filter", test_filter},
    {"test", test_test},
    {"none", test_none},
    {"boolean", test_boolean},
    {"false", test_false},
    {"true", test_true},
    {"integer", test_integer},
    {"float", test_float},
    {"lower", test_lower},
    {"upper", test_upper},
    {"string", test_string},
    {"mapping", test_mapping},
    {"number", test_number},
    {"sequence", test_sequence},
    {"iterable", test_iterable},
    {"callable", test_callable},
    {"sameas", test_sameas},
    {"escaped", test_escaped},
    {"in", test_in},
    {"==", test_eq},
    {"eq", test_eq},
    {"equalto", test_eq},
    {"!=", test_ne},
    {"ne", test_ne},
    {">", test_gt},
    {"gt", test_gt},
    {"greaterthan", test_gt},
    {"ge", test_ge},
    {">=", test_ge},
    {"<", test_lt},
    {"lt", test_lt},
    {"lessthan", test_lt},
    {"<=", test_le},
    {"le", test_le},
};

}  // namespace

int test_id(std::string_view name) noexcept { return registry_find(test_table, name); }

bool renderer::call_test_node(const expr& e, const scope_ptr& sc) {
    value v = e.a ? eval(*e.a, sc) : value();
    arglist args = eval_args(e.call, sc);
    if (e.builtin < 0) runtime_fail("TemplateRuntimeError: No test named '" + e.name + "' found.");
    return call_test(e.builtin, v, args);
}

/// Test @p id (a test_id) of @p v with the arguments @p args_in.
bool renderer::call_test(int id, const value& v, const arglist& args_in) {
    arglist a = args_in;
    return test_table[id].fn(*this, v, a);
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
