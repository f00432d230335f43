// SPDX-License-Identifier: Apache-2.0
// The expression parser of the Jinja interpreter: jinja2 3.1's parser.py from parse_expression
// down (conditional expressions, boolean and comparison operators, arithmetic, unary operators,
// literals, subscripts, calls, filters and tests).
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/builtins.hpp"
#include "text/jinja/parser.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

expr_ptr program::builder::parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condexpr() : parse_or();
}

expr_ptr program::builder::parse_condexpr() {
    depth_guard g(*this, cur().pos);
    const std::size_t pos = cur().pos;
    expr_ptr e1 = parse_or();
    while (is_name("if")) {
        next();
        expr_ptr e2 = parse_or();
        expr_ptr e3;
        if (skip_name("else")) e3 = parse_condexpr();
        auto c = make(ek::condexpr, pos);
        c->a = std::move(e2);
        c->b = std::move(e1);
        c->c = std::move(e3);
        e1 = std::move(c);
    }
    return e1;
}

expr_ptr program::builder::binary(ek k, std::size_t pos, expr_ptr l, expr_ptr r) {
    auto e = make(k, pos);
    e->a = std::move(l);
    e->b = std::move(r);
    return e;
}

expr_ptr program::builder::parse_or() {
    const std::size_t pos = cur().pos;
    expr_ptr l = parse_and();
    while (skip_name("or")) l = binary(ek::or_, pos, std::move(l), parse_and());
    return l;
}

expr_ptr program::builder::parse_and() {
    const std::size_t pos = cur().pos;
    expr_ptr l = parse_not();
    while (skip_name("and")) l = binary(ek::and_, pos, std::move(l), parse_not());
    return l;
}

expr_ptr program::builder::parse_not() {
    if (is_name("not")) {
        depth_guard g(*this, cur().pos);
        auto e = make(ek::not_, next().pos);
        e->a = parse_not();
        return e;
    }
    return parse_compare();
}

expr_ptr program::builder::parse_compare() {
    const std::size_t pos = cur().pos;
    expr_ptr e = parse_math1();
    std::vector<std::pair<cmp_op, expr_ptr>> ops;
    for (;;) {
        const tt t = cur().type;
        cmp_op op;
        if (t == tt::eq) {
            op = cmp_op::eq;
        } else if (t == tt::ne) {
            op = cmp_op::ne;
        } else if (t == tt::lt) {
            op = cmp_op::lt;
        } else if (t == tt::lteq) {
            op = cmp_op::lteq;
        } else if (t == tt::gt) {
            op = cmp_op::gt;
        } else if (t == tt::gteq) {
            op = cmp_op::gteq;
        } else if (is_name("in")) {
            op = cmp_op::in;
        } else if (is_name("not") && look().type == tt::name && look().text == "in") {
            next();
            op = cmp_op::notin;
        } else {
            break;
        }
        next();
        ops.emplace_back(op, parse_math1());
    }
    if (ops.empty()) return e;
    auto c = make(ek::compare, pos);
    c->a = std::move(e);
    c->ops = std::move(ops);
    return c;
}

expr_ptr program::builder::parse_math1() {
    const std::size_t pos = cur().pos;
    expr_ptr l = parse_concat();
    while (cur().type == tt::add || cur().type == tt::sub) {
        const ek k = next().type == tt::add ? ek::add : ek::sub;
        l = binary(k, pos, std::move(l), parse_concat());
    }
    return l;
}

expr_ptr program::builder::parse_concat() {
    const std::size_t pos = cur().pos;
    expr_ptr first = parse_math2();
    if (cur().type != tt::tilde) return first;
    auto c = make(ek::concat, pos);
    c->items.push_back(std::move(first));
    while (skip(tt::tilde)) c->items.push_back(parse_math2());
    return c;
}

expr_ptr program::builder::parse_math2() {
    const std::size_t pos = cur().pos;
    expr_ptr l = parse_pow();
    for (;;) {
        ek k;
        switch (cur().type) {
            case tt::mul:
                k = ek::mul;
                break;
            case tt::div:
                k = ek::div;
                break;
            case tt::floordiv:
                k = ek::floordiv;
                break;
            case tt::mod:
                k = ek::mod;
                break;
            default:
                return l;
        }
        next();
        l = binary(k, pos, std::move(l), parse_pow());
    }
}

expr_ptr program::builder::parse_pow() {
    const std::size_t pos = cur().pos;
    expr_ptr l = parse_unary(true);
    while (skip(tt::pow)) l = binary(ek::pow, pos, std::move(l), parse_unary(true));
    return l;
}

expr_ptr program::builder::parse_unary(bool with_filter) {
    depth_guard g(*this, cur().pos);
    const std::size_t pos = cur().pos;
    expr_ptr node;
    if (cur().type == tt::sub || cur().type == tt::add) {
        const ek k = next().type == tt::sub ? ek::neg : ek::pos;
        node = make(k, pos);
        node->a = parse_unary(false);
    } else {
        node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
}

expr_ptr program::builder::parse_primary() {
    depth_guard g(*this, cur().pos);
    const token& t = cur();
    const std::size_t pos = t.pos;
    if (t.type == tt::name) {
        expr_ptr e;
        if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
            e = make(ek::constant, pos);
            e->constant = value::boolean(t.text[0] == 't' || t.text[0] == 'T');
        } else if (t.text == "none" || t.text == "None") {
            e = make(ek::constant, pos);
            e->constant = value::none();
        } else {
            e = make(ek::name, pos);
            e->name = t.text;
            e->symbol = intern(t.text);
        }
        next();
        return e;
    }
    if (t.type == tt::string) {
        std::string s;
        while (cur().type == tt::string) s += next().text;
        auto e = make(ek::constant, pos);
        e->constant = value::string(std::move(s));
        return e;
    }
    if (t.type == tt::integer || t.type == tt::floating) {
        auto e = make(ek::constant, pos);
        e->constant = t.num;
        next();
        return e;
    }
    if (t.type == tt::lparen) {
        next();
        expr_ptr e = parse_tuple(false, true, {}, true);
        expect(tt::rparen);
        return e;
    }
    if (t.type == tt::lbracket) {
        next();
        auto e = make(ek::list, pos);
        while (cur().type != tt::rbracket) {
            if (!e->items.empty()) expect(tt::comma);
            if (cur().type == tt::rbracket) break;
            e->items.push_back(parse_expression(true));
        }
        expect(tt::rbracket);
        return e;
    }
    if (t.type == tt::lbrace) {
        next();
        auto e = make(ek::dict, pos);
        while (cur().type != tt::rbrace) {
            if (!e->items.empty()) expect(tt::comma);
            if (cur().type == tt::rbrace) break;
            e->items.push_back(parse_expression(true));
            expect(tt::colon);
            e->values.push_back(parse_expression(true));
        }
        expect(tt::rbrace);
        return e;
    }
    if (t.type == tt::eof) unexpected("an expression");
    syntax(std::string("unexpected ") +
               (t.type == tt::name ? "'" + t.text + "'" : std::string(token_name(t.type))),
           pos);
}

bool program::builder::is_tuple_end(const std::vector<std::string>& extra) const {
    const tt t = cur().type;
    if (t == tt::variable_end || t == tt::block_end || t == tt::rparen) return true;
    if (t == tt::name)
        for (const auto& e : extra)
            if (cur().text == e) return true;
    return false;
}

expr_ptr program::builder::parse_tuple(bool simplified, bool with_condexpr,
                                       std::vector<std::string> extra, bool explicit_parens) {
    const std::size_t pos = cur().pos;
    std::vector<expr_ptr> args;
    bool is_tuple = false;
    for (;;) {
        if (!args.empty()) expect(tt::comma);
        if (is_tuple_end(extra)) break;
        args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
        if (cur().type == tt::comma) {
            is_tuple = true;
        } else {
            break;
        }
    }
    if (!is_tuple) {
        if (!args.empty()) return std::move(args[0]);
        if (!explicit_parens) unexpected("an expression");
    }
    auto e = make(ek::tuple, pos);
    e->items = std::move(args);
    return e;
}

expr_ptr program::builder::parse_postfix(expr_ptr node) {
    for (;;) {
        const tt t = cur().type;
        if (t == tt::dot || t == tt::lbracket) {
            node = parse_subscript(std::move(node));
        } else if (t == tt::lparen) {
            node = parse_call(std::move(node));
        } else {
            return node;
        }
    }
}

expr_ptr program::builder::parse_filter_expr(expr_ptr node) {
    for (;;) {
        if (cur().type == tt::pipe) {
            node = parse_filter(std::move(node), false);
        } else if (is_name("is")) {
            node = parse_test(std::move(node));
        } else if (cur().type == tt::lparen) {
            node = parse_call(std::move(node));
        } else {
            return node;
        }
    }
}

expr_ptr program::builder::parse_subscript(expr_ptr node) {
    depth_guard g(*this, cur().pos);
    const token& t = next();
    const std::size_t pos = t.pos;
    if (t.type == tt::dot) {
        const token& a = cur();
        if (a.type == tt::name) {
            auto e = make(ek::getattr, pos);
            e->a = std::move(node);
            e->name = a.text;
            next();
            return e;
        }
        if (a.type != tt::integer) syntax("expected name or number", a.pos);
        auto k = make(ek::constant, a.pos);
        k->constant = a.num;
        next();
        auto e = make(ek::getitem, pos);
        e->a = std::move(node);
        e->b = std::move(k);
        return e;
    }
    std::vector<expr_ptr> args;
    while (cur().type != tt::rbracket) {
        if (!args.empty()) expect(tt::comma);
        args.push_back(parse_subscribed());
    }
    expect(tt::rbracket);
    auto e = make(ek::getitem, pos);
    e->a = std::move(node);
    if (args.size() == 1) {
        e->b = std::move(args[0]);
    } else {
        auto tup = make(ek::tuple, pos);
        tup->items = std::move(args);
        e->b = std::move(tup);
    }
    return e;
}

expr_ptr program::builder::parse_subscribed() {
    const std::size_t pos = cur().pos;
    expr_ptr start;
    if (cur().type == tt::colon) {
        next();
    } else {
        expr_ptr n = parse_expression(true);
        if (cur().type != tt::colon) return n;
        next();
        start = std::move(n);
    }
    auto s = make(ek::slice, pos);
    s->a = std::move(start);
    if (cur().type != tt::colon && cur().type != tt::rbracket && cur().type != tt::comma)
        s->b = parse_expression(true);
    if (cur().type == tt::colon) {
        next();
        if (cur().type != tt::rbracket && cur().type != tt::comma) s->c = parse_expression(true);
    }
    return s;
}

call_args program::builder::parse_call_args() {
    const std::size_t pos = expect(tt::lparen).pos;
    call_args c;
    bool require_comma = false;
    auto ensure = [&](bool ok) {
        if (!ok) syntax("invalid syntax for function call expression", pos);
    };
    while (cur().type != tt::rparen) {
        if (require_comma) {
            expect(tt::comma);
            if (cur().type == tt::rparen) break;
        }
        if (cur().type == tt::mul) {
            ensure(!c.dyn_args && !c.dyn_kwargs);
            next();
            c.dyn_args = parse_expression(true);
        } else if (cur().type == tt::pow) {
            ensure(!c.dyn_kwargs);
            next();
            c.dyn_kwargs = parse_expression(true);
        } else if (cur().type == tt::name && look().type == tt::assign) {
            ensure(!c.dyn_kwargs);
            std::string key = next().text;
            next();
            c.kwargs.push_back(keyword_arg{std::move(key), parse_expression(true)});
        } else {
            ensure(!c.dyn_args && !c.dyn_kwargs && c.kwargs.empty());
            c.args.push_back(parse_expression(true));
        }
        require_comma = true;
    }
    expect(tt::rparen);
    return c;
}

expr_ptr program::builder::parse_call(expr_ptr node) {
    depth_guard g(*this, cur().pos);
    auto e = make(ek::call, cur().pos);
    e->call = parse_call_args();
    e->a = std::move(node);
    return e;
}

expr_ptr program::builder::parse_filter(expr_ptr node, bool start_inline) {
    while (cur().type == tt::pipe || start_inline) {
        depth_guard g(*this, cur().pos);
        if (!start_inline) next();
        const token& n = expect_name();
        std::string name = n.text;
        while (skip(tt::dot)) name += "." + expect_name().text;
        auto e = make(ek::filter, n.pos);
        if (cur().type == tt::lparen) e->call = parse_call_args();
        e->a = std::move(node);
        e->builtin = filter_id(name);
        e->name = std::move(name);
        node = std::move(e);
        start_inline = false;
    }
    return node;
}

expr_ptr program::builder::parse_test(expr_ptr node) {
    depth_guard g(*this, cur().pos);
    const std::size_t pos = next().pos;
    const bool negated = skip_name("not");
    const token& n = expect_name();
    std::string name = n.text;
    while (skip(tt::dot)) name += "." + expect_name().text;
    auto e = make(ek::test, pos);
    const tt t = cur().type;
    if (t == tt::lparen) {
        e->call = parse_call_args();
    } else if ((t == tt::name || t == tt::string || t == tt::integer || t == tt::floating ||
                t == tt::lparen || t == tt::lbracket || t == tt::lbrace) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) syntax("You cannot chain multiple tests with is", cur().pos);
        e->call.args.push_back(parse_postfix(parse_primary()));
    }
    e->a = std::move(node);
    e->builtin = test_id(name);
    e->name = std::move(name);
    if (!negated) return e;
    auto no = make(ek::not_, pos);
    no->a = std::move(e);
    return no;
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
