// SPDX-License-Identifier: Apache-2.0
// The expressions of the Jinja renderer: literals, names, subscripts, operators (Python's
// arithmetic, comparison, `in`, and/or/not, `~`), conditional expressions, and jinja2's constant
// folding where it changes the result.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

value renderer::eval(const expr& e, const scope_ptr& sc) {
    step();
    try {
        return eval_inner(e, sc);
    } catch (jinja_error& err) {
        if (err.pos == no_pos) err.pos = e.pos;
        throw;
    }
}

value renderer::eval_inner(const expr& e, const scope_ptr& sc) {
    switch (e.kind) {
        case ek::constant:
            return e.constant;
        case ek::name: {
            const value* v = sc->find(e.symbol);
            if (v) return *v;
            return value::undefined("'" + e.name + "' is undefined");
        }
        case ek::list:
        case ek::tuple: {
            std::vector<value> items;
            items.reserve(e.items.size());
            for (const auto& x : e.items) items.push_back(eval(*x, sc));
            return value::list(std::move(items),
                               e.kind == ek::tuple ? list_type::tuple : list_type::list);
        }
        case ek::dict: {
            auto d = std::make_shared<dict_obj>();
            for (std::size_t k = 0; k < e.items.size(); ++k) {
                value key = eval(*e.items[k], sc);
                require_hashable(key);
                d->set(std::move(key), eval(*e.values[k], sc));
            }
            return value::from_dict(std::move(d));
        }
        case ek::getattr:
            return get_attr(eval(*e.a, sc), e.name);
        case ek::getitem: {
            const value obj = eval(*e.a, sc);
            if (e.b->kind == ek::slice) {
                const expr& sl = *e.b;
                const value a = sl.a ? eval(*sl.a, sc) : value::none();
                const value b = sl.b ? eval(*sl.b, sc) : value::none();
                const value c = sl.c ? eval(*sl.c, sc) : value::none();
                // jinja2's optimizer folds a constant subscript through environment.getitem,
                // where a failing slice is undefined; at run time a slice is a plain Python
                // subscript that raises
                if (is_const(*e.a) && is_const(*e.b) && slice_fails(obj))
                    return value::undefined("'" + type_name(obj) +
                                            " object' has no attribute slice");
                return get_slice(obj, a, b, c);
            }
            return get_item(obj, eval(*e.b, sc));
        }
        case ek::slice:
            unsupported("a slice outside of a subscript");
        case ek::call:
            return eval_call(e, sc, value());
        case ek::filter: {
            value input = e.a ? eval(*e.a, sc) : value();
            return call_filter_node(e, std::move(input), sc);
        }
        case ek::test:
            return value::boolean(call_test_node(e, sc));
        case ek::not_:
            return value::boolean(!truthy(eval(*e.a, sc)));
        case ek::neg:
            return negate(eval(*e.a, sc));
        case ek::pos: {
            value v = eval(*e.a, sc);
            if (v.is_undefined()) undefined_fail(v);
            if (!v.is_number())
                runtime_fail("TypeError: bad operand type for unary +: '" + type_name(v) + "'");
            if (v.kind() == vk::boolean) return value::integer(v.as_int());
            return v;
        }
        case ek::add:
        case ek::sub:
        case ek::mul:
        case ek::div:
        case ek::floordiv:
        case ek::mod:
        case ek::pow: {
            const value a = eval(*e.a, sc);
            const value b = eval(*e.b, sc);
            return arith(e.kind, a, b);
        }
        case ek::and_: {
            value a = eval(*e.a, sc);
            if (!truthy(a)) return a;
            return eval(*e.b, sc);
        }
        case ek::or_: {
            value a = eval(*e.a, sc);
            if (truthy(a)) return a;
            return eval(*e.b, sc);
        }
        case ek::concat: {
            std::string s;
            for (const auto& x : e.items) {
                py_str(eval(*x, sc), s);
                check_size(s.size());
            }
            return str_value(std::move(s));
        }
        case ek::compare: {
            value left = eval(*e.a, sc);
            for (const auto& [op, re] : e.ops) {
                value right = eval(*re, sc);
                if (!compare(op, left, right)) return value::boolean(false);
                left = std::move(right);
            }
            return value::boolean(true);
        }
        case ek::condexpr:
            if (truthy(eval(*e.a, sc))) return eval(*e.b, sc);
            if (e.c) return eval(*e.c, sc);
            return value::undefined(
                "the inline if-expression evaluated to false and no else section was "
                "defined.");
        case ek::nsref:
            unsupported("a namespace reference outside of an assignment");
    }
    unsupported("unknown expression");
}

/// Whether jinja2's optimizer can fold @p e to a constant (nodes.Expr.as_const succeeds
/// for the node kinds; values that make it raise are handled by the caller).
bool renderer::is_const(const expr& e) {
    switch (e.kind) {
        case ek::constant:
            return true;
        case ek::list:
        case ek::tuple:
        case ek::dict:
        case ek::concat:
            for (const auto& x : e.items)
                if (!is_const(*x)) return false;
            for (const auto& x : e.values)
                if (!is_const(*x)) return false;
            return true;
        case ek::slice:
        case ek::getitem:
        case ek::getattr:
        case ek::not_:
        case ek::neg:
        case ek::pos:
        case ek::add:
        case ek::sub:
        case ek::mul:
        case ek::div:
        case ek::floordiv:
        case ek::mod:
        case ek::pow:
        case ek::and_:
        case ek::or_:
        case ek::condexpr:
            return (!e.a || is_const(*e.a)) && (!e.b || is_const(*e.b)) && (!e.c || is_const(*e.c));
        case ek::compare:
            for (const auto& [op, x] : e.ops)
                if (!is_const(*x)) return false;
            return is_const(*e.a);
        default:
            return false;
    }
}

/// Whether slicing @p obj raises in Python.
bool renderer::slice_fails(const value& obj) {
    if (obj.is_string()) return false;
    if (obj.kind() == vk::list) {
        const auto t = obj.list().type;
        return !(t == list_type::list || t == list_type::tuple || t == list_type::range);
    }
    return true;
}

bool renderer::compare(cmp_op op, const value& a, const value& b) {
    switch (op) {
        case cmp_op::eq:
            return py_eq(a, b);
        case cmp_op::ne:
            return !py_eq(a, b);
        case cmp_op::lt:
            return py_lt(a, b);
        case cmp_op::gt:
            return py_lt(b, a);
        case cmp_op::lteq:
            if (a.is_number() && b.is_number()) return py_lt(a, b) || num_eq(a, b);
            if (a.is_string() && b.is_string()) return a.str() <= b.str();
            if (is_seq_list(a) && is_seq_list(b) && a.list().type == b.list().type)
                return !py_lt(b, a);
            if (a.is_undefined()) undefined_fail(a);
            if (b.is_undefined()) undefined_fail(b);
            order_fail("<=", a, b);
        case cmp_op::gteq:
            if (a.is_number() && b.is_number()) return py_lt(b, a) || num_eq(a, b);
            if (a.is_string() && b.is_string()) return a.str() >= b.str();
            if (is_seq_list(a) && is_seq_list(b) && a.list().type == b.list().type)
                return !py_lt(a, b);
            if (a.is_undefined()) undefined_fail(a);
            if (b.is_undefined()) undefined_fail(b);
            order_fail(">=", a, b);
        case cmp_op::in:
            return contains(b, a);
        case cmp_op::notin:
            return !contains(b, a);
    }
    return false;
}

/// Python's `needle in hay`.
bool renderer::contains(const value& hay, const value& needle) {
    switch (hay.kind()) {
        case vk::undefined:
            return false;
        case vk::string:
            if (!needle.is_string())
                runtime_fail("TypeError: 'in <string>' requires string as left operand, not " +
                             type_name(needle));
            return hay.str().find(needle.str()) != std::string::npos;
        case vk::list: {
            const auto& l = hay.list();
            if (l.type == list_type::dict_keys || l.type == list_type::dict_items)
                require_hashable(needle);
            for (const auto& x : l.items)
                if (py_eq(x, needle)) return true;
            return false;
        }
        case vk::dict:
            require_hashable(needle);
            return hay.dict().find(needle) != nullptr;
        case vk::object:
            if (hay.is_object(object_type::generator)) {
                auto& g = static_cast<generator_obj&>(hay.obj());
                value x;
                while (g.next(x))
                    if (py_eq(x, needle)) return true;
                return false;
            }
            [[fallthrough]];
        default:
            runtime_fail("TypeError: argument of type '" + type_name(hay) + "' is not iterable");
    }
}

value renderer::negate(const value& v) {
    if (v.is_undefined()) undefined_fail(v);
    if (v.kind() == vk::floating) return value::floating(-v.as_float());
    if (v.is_int_like()) {
        std::int64_t r = 0;
        return value::integer(checked_op(
            [&](std::int64_t* out) { return __builtin_sub_overflow(0, v.as_int(), out); }, r));
    }
    runtime_fail("TypeError: bad operand type for unary -: '" + type_name(v) + "'");
}

[[noreturn]] void renderer::arith_fail(const char* op, const value& a, const value& b) {
    runtime_fail(std::string("TypeError: unsupported operand type(s) for ") + op + ": '" +
                 type_name(a) + "' and '" + type_name(b) + "'");
}

double renderer::py_fmod(double x, double y, double* floordiv) {
    // CPython's float_divmod
    double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0) {
        if ((y < 0) != (mod < 0)) {
            mod += y;
            div -= 1.0;
        }
    } else {
        mod = std::copysign(0.0, y);
    }
    double fd;
    if (div != 0) {
        fd = std::floor(div);
        if (div - fd > 0.5) fd += 1.0;
    } else {
        fd = std::copysign(0.0, x / y);
    }
    if (floordiv) *floordiv = fd;
    return mod;
}

value renderer::repeat(const value& seq, std::int64_t n) {
    if (seq.is_string()) {
        if (n <= 0) return value::string("", seq.is_markup(), true);
        check_size(seq.str().size() * static_cast<std::size_t>(n));
        step_n(seq.str().size() * static_cast<std::size_t>(n));
        std::string r;
        r.reserve(seq.str().size() * static_cast<std::size_t>(n));
        for (std::int64_t k = 0; k < n; ++k) r += seq.str();
        return value::string(std::move(r), seq.is_markup(), seq.str_ascii());
    }
    const auto& l = seq.list();
    std::vector<value> r;
    if (n > 0) {
        check_size(l.items.size() * static_cast<std::size_t>(n) * sizeof(value));
        step_n(l.items.size() * static_cast<std::size_t>(n));
        for (std::int64_t k = 0; k < n; ++k) r.insert(r.end(), l.items.begin(), l.items.end());
    }
    return value::list(std::move(r), l.type);
}

value renderer::arith(ek op, const value& a, const value& b) {
    if (a.is_undefined()) undefined_fail(a);
    if (b.is_undefined()) undefined_fail(b);
    const char* sym = op == ek::add        ? "+"
                      : op == ek::sub      ? "-"
                      : op == ek::mul      ? "*"
                      : op == ek::div      ? "/"
                      : op == ek::floordiv ? "//"
                      : op == ek::mod      ? "%"
                                           : "**";
    if (a.is_number() && b.is_number()) {
        const bool ints = a.is_int_like() && b.is_int_like();
        const std::int64_t x = a.as_int(), y = b.as_int();
        const double fx = a.to_double(), fy = b.to_double();
        std::int64_t r = 0;
        switch (op) {
            case ek::add:
                if (ints)
                    return value::integer(checked_op(
                        [&](std::int64_t* out) { return __builtin_add_overflow(x, y, out); }, r));
                return value::floating(fx + fy);
            case ek::sub:
                if (ints)
                    return value::integer(checked_op(
                        [&](std::int64_t* out) { return __builtin_sub_overflow(x, y, out); }, r));
                return value::floating(fx - fy);
            case ek::mul:
                if (ints)
                    return value::integer(checked_op(
                        [&](std::int64_t* out) { return __builtin_mul_overflow(x, y, out); }, r));
                return value::floating(fx * fy);
            case ek::div:
                if (fy == 0) runtime_fail("ZeroDivisionError: division by zero");
                if (ints && (std::llabs(x) > (1LL << 53) || std::llabs(y) > (1LL << 53)))
                    unsupported("true division of integers beyond 2**53");
                return value::floating(fx / fy);
            case ek::floordiv:
            case ek::mod:
                if (ints) {
                    if (y == 0)
                        runtime_fail(op == ek::mod
                                         ? "ZeroDivisionError: integer modulo by zero"
                                         : "ZeroDivisionError: integer division or modulo by zero");
                    if (x == INT64_MIN && y == -1) unsupported("integer overflow");
                    std::int64_t q = x / y, m = x % y;
                    if (m != 0 && ((m < 0) != (y < 0))) {
                        m += y;
                        q -= 1;
                    }
                    return value::integer(op == ek::mod ? m : q);
                }
                if (fy == 0)
                    runtime_fail(op == ek::mod ? "ZeroDivisionError: float modulo"
                                               : "ZeroDivisionError: float floor division by zero");
                {
                    double fd;
                    const double m = py_fmod(fx, fy, &fd);
                    return value::floating(op == ek::mod ? m : fd);
                }
            case ek::pow:
                if (ints) {
                    if (y < 0) {
                        if (x == 0)
                            runtime_fail(
                                "ZeroDivisionError: 0.0 cannot be raised to a negative power");
                        return value::floating(std::pow(fx, fy));
                    }
                    std::int64_t acc = 1, base = x, e = y;
                    bool over = false;
                    while (e > 0) {
                        if (e & 1) over |= __builtin_mul_overflow(acc, base, &acc);
                        e >>= 1;
                        if (e > 0) over |= __builtin_mul_overflow(base, base, &base);
                    }
                    return value::integer(checked(over, acc));
                }
                {
                    if (fx == 0 && fy < 0)
                        runtime_fail("ZeroDivisionError: 0.0 cannot be raised to a negative power");
                    if (fx < 0 && std::trunc(fy) != fy)
                        unsupported("a negative number to a fractional power (complex result)");
                    const double p = std::pow(fx, fy);
                    if (std::isinf(p) && std::isfinite(fx) && std::isfinite(fy))
                        runtime_fail("OverflowError: (34, 'Numerical result out of range')");
                    return value::floating(p);
                }
            default:
                break;
        }
    }
    if (op == ek::add) {
        if (a.is_string() && b.is_string()) {
            // markupsafe: Markup + str escapes the str, and the result is Markup
            const bool markup = a.is_markup() || b.is_markup();
            std::string r;
            const std::string& x = a.str();
            const std::string& y = b.str();
            check_size(x.size() + y.size());
            step_n(x.size() + y.size());
            r.reserve(x.size() + y.size());
            r += (markup && !a.is_markup()) ? html_escape(x) : x;
            r += (markup && !b.is_markup()) ? html_escape(y) : y;
            return value::string(std::move(r), markup, a.str_ascii() && b.str_ascii());
        }
        if (is_seq_list(a) && is_seq_list(b) && a.list().type == b.list().type) {
            std::vector<value> r = a.list().items;
            check_size((r.size() + b.list().items.size()) * sizeof(value));
            step_n(r.size() + b.list().items.size());
            r.insert(r.end(), b.list().items.begin(), b.list().items.end());
            return value::list(std::move(r), a.list().type);
        }
        if (is_seq_list(a) && is_seq_list(b))
            runtime_fail("TypeError: can only concatenate " + type_name(a) + " (not \"" +
                         type_name(b) + "\") to " + type_name(a));
    }
    if (op == ek::mul) {
        if ((a.is_string() || is_seq_list(a)) && b.is_int_like()) return repeat(a, b.as_int());
        if ((b.is_string() || is_seq_list(b)) && a.is_int_like()) return repeat(b, a.as_int());
    }
    if (op == ek::mod && a.is_string()) {
        if (a.is_markup()) unsupported("% formatting of Markup strings is not supported");
        // Python's str % x: a tuple gives the arguments, anything else is one argument;
        // a mapping also serves %(name)s fields
        arglist args;
        if (b.kind() == vk::list && b.list().type == list_type::tuple) {
            args.pos = b.list().items;
        } else {
            args.pos.push_back(b);
        }
        std::string r = printf_format(a.str(), args, b.kind() == vk::dict ? &b.dict() : nullptr);
        check_size(r.size());
        return str_value(std::move(r));
    }
    auto is_set_view = [](const value& v) {
        return v.kind() == vk::list &&
               (v.list().type == list_type::dict_keys || v.list().type == list_type::dict_items);
    };
    if (op == ek::sub && (is_set_view(a) || is_set_view(b)))
        unsupported("set operations on dict views are not supported");
    arith_fail(sym, a, b);
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
