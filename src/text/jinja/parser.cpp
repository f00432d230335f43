// SPDX-License-Identifier: Apache-2.0
// The statement parser of the Jinja interpreter and program::parse: jinja2 3.1's parser.py from
// subparse down to the statements (if, for, set, macro, call, filter, with, ...), and the
// compile-time checks of the parsed tree. Tokens come from lexer.cpp, expressions from
// parse_expr.cpp.
#include "text/jinja/parser.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/jinja.hpp"
#include "text/jinja/lexer.hpp"
#include "text/jinja/pyunicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

void fail(jinja_error::kind k, std::string message, std::size_t pos) {
    throw jinja_error{k, std::move(message), pos};
}

body program::builder::subparse(const std::vector<std::string>* end_tokens) {
    body out;
    std::unique_ptr<stmt> data;
    auto flush = [&] {
        if (data) out.push_back(std::move(data));
    };
    for (;;) {
        const token& t = cur();
        if (t.type == tt::eof) break;
        if (t.type == tt::data) {
            if (!data) data = std::make_unique<stmt>(sk::output, t.pos);
            data->parts.push_back(output_part{t.text, nullptr});
            next();
        } else if (t.type == tt::variable_begin) {
            next();
            if (!data) data = std::make_unique<stmt>(sk::output, t.pos);
            data->parts.push_back(output_part{{}, parse_tuple(false, true, {}, false)});
            expect(tt::variable_end);
        } else if (t.type == tt::block_begin) {
            flush();
            next();
            if (end_tokens && cur().type == tt::name) {
                for (const auto& e : *end_tokens)
                    if (cur().text == e) return out;
            }
            out.push_back(parse_statement());
            expect(tt::block_end);
        } else {
            unexpected("template data or a tag");
        }
    }
    flush();
    return out;
}

/// parse_statements: skips an optional colon, expects the block end, parses until one of
/// @p ends (left as the current token unless @p drop_needle).
body program::builder::parse_statements(std::vector<std::string> ends, bool drop_needle) {
    skip(tt::colon);
    expect(tt::block_end);
    std::string joined;
    for (const auto& e : ends) joined += (joined.empty() ? "" : "' or '") + e;
    end_stack.push_back(joined);
    body b = subparse(&ends);
    if (cur().type == tt::eof) unexpected("end tag");
    end_stack.pop_back();
    if (drop_needle) next();
    return b;
}

/// A body in a new jinja2 frame. break/continue: @p loop enter (a for body),
/// keep (bodies jinja2 compiles inline: with, filter and set blocks, for-else) or reset
/// (macro and call-block bodies, which are Python functions).
body program::builder::inner_statements(std::vector<std::string> ends, bool drop_needle,
                                        loop_rule loop) {
    const int saved_loop = loop_depth;
    if (loop == loop_rule::enter) ++loop_depth;
    if (loop == loop_rule::reset) loop_depth = 0;
    body b = parse_statements(std::move(ends), drop_needle);
    loop_depth = saved_loop;
    return b;
}

stmt_ptr program::builder::parse_statement() {
    const token& t = cur();
    depth_guard g(*this, t.pos);
    if (t.type != tt::name) syntax("tag name expected", t.pos);
    const std::string& n = t.text;
    const std::size_t pos = t.pos;
    if (n == "if") return parse_if();
    if (n == "for") return parse_for();
    if (n == "set") return parse_set();
    if (n == "macro") return parse_macro();
    if (n == "call") return parse_call_block();
    if (n == "filter") return parse_filter_block();
    if (n == "with") return parse_with();
    if (n == "print") {
        next();
        auto s = std::make_unique<stmt>(sk::output, pos);
        while (cur().type != tt::block_end) {
            if (!s->parts.empty()) expect(tt::comma);
            s->parts.push_back(output_part{{}, parse_expression(true)});
        }
        return s;
    }
    if (n == "break" || n == "continue") {
        next();
        if (loop_depth == 0) syntax("'" + n + "' outside of a loop", pos);
        return std::make_unique<stmt>(n == "break" ? sk::break_ : sk::continue_, pos);
    }
    if (n == "generation") {
        // transformers' AssistantTracker: the body, rendered as a call block's caller.
        next();
        auto s = std::make_unique<stmt>(sk::scope, pos);
        s->b = inner_statements({"endgeneration"}, true, loop_rule::reset);
        return s;
    }
    if (n == "block" || n == "extends" || n == "include" || n == "import" || n == "from" ||
        n == "autoescape" || n == "raw")
        fail(jinja_error::kind::unsupported, "the '" + n + "' tag is not supported", pos);
    std::string m = "Encountered unknown tag '" + n + "'.";
    if (!end_stack.empty())
        m += " Jinja was looking for the following tags: '" + end_stack.back() + "'.";
    syntax(m, pos);
}

stmt_ptr program::builder::parse_if() {
    auto s = std::make_unique<stmt>(sk::if_, cur().pos);
    next();
    for (;;) {
        expr_ptr test = parse_tuple(false, false, {}, false);
        body b = parse_statements({"elif", "else", "endif"}, false);
        s->branches.emplace_back(std::move(test), std::move(b));
        const token& t = next();
        if (t.text == "elif") continue;
        if (t.text == "else") s->else_body = parse_statements({"endif"}, true);
        break;
    }
    return s;
}

stmt_ptr program::builder::parse_for() {
    auto s = std::make_unique<stmt>(sk::for_, cur().pos);
    next();
    s->target = parse_assign_target(true, false, {"in"}, false);
    expect_name("in");
    s->iter = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) {
        s->test = parse_expression(true);
    }
    if (is_name("recursive"))
        fail(jinja_error::kind::unsupported, "recursive loops are not supported", cur().pos);
    s->b = inner_statements({"endfor", "else"}, false, loop_rule::enter);
    if (next().text == "else") s->else_body = inner_statements({"endfor"}, true, loop_rule::keep);
    return s;
}

stmt_ptr program::builder::parse_set() {
    const std::size_t pos = cur().pos;
    next();
    expr_ptr target = parse_assign_target(true, false, {}, true);
    if (skip(tt::assign)) {
        auto s = std::make_unique<stmt>(sk::set, pos);
        s->target = std::move(target);
        s->iter = parse_tuple(false, true, {}, false);
        return s;
    }
    auto s = std::make_unique<stmt>(sk::set_block, pos);
    s->target = std::move(target);
    s->filter = parse_filter(nullptr, false);
    s->b = inner_statements({"endset"}, true, loop_rule::keep);
    return s;
}

void program::builder::parse_signature(macro_def& m) {
    expect(tt::lparen);
    while (cur().type != tt::rparen) {
        if (!m.params.empty()) expect(tt::comma);
        const token& n = expect_name();
        check_assignable_name(n.text, n.pos);
        m.param_names.push_back(n.text);
        m.params.push_back(intern(n.text));
        if (skip(tt::assign)) {
            m.defaults.push_back(parse_expression(true));
        } else if (!m.defaults.empty()) {
            syntax("non-default argument follows default argument", n.pos);
        }
    }
    expect(tt::rparen);
}

/// jinja2 passes `caller`, `varargs`, `kwargs` only to macros whose body names them.
void program::builder::scan_special(const expr* e, macro_def& m) {
    if (!e) return;
    if (e->kind == ek::name) {
        if (e->name == "caller") m.uses_caller = true;
        if (e->name == "varargs") m.uses_varargs = true;
        if (e->name == "kwargs") m.uses_kwargs = true;
    }
    scan_special(e->a.get(), m);
    scan_special(e->b.get(), m);
    scan_special(e->c.get(), m);
    for (const auto& x : e->items) scan_special(x.get(), m);
    for (const auto& x : e->values) scan_special(x.get(), m);
    for (const auto& [op, x] : e->ops) scan_special(x.get(), m);
    for (const auto& x : e->call.args) scan_special(x.get(), m);
    for (const auto& k : e->call.kwargs) scan_special(k.value.get(), m);
    scan_special(e->call.dyn_args.get(), m);
    scan_special(e->call.dyn_kwargs.get(), m);
}

stmt_ptr program::builder::parse_macro() {
    auto s = std::make_unique<stmt>(sk::macro, cur().pos);
    next();
    auto m = std::make_shared<macro_def>();
    const token& n = expect_name();
    check_assignable_name(n.text, n.pos);
    m->name = n.text;
    m->symbol = intern(n.text);
    parse_signature(*m);
    m->b = inner_statements({"endmacro"}, true, loop_rule::reset);
    scan_special(m->b, *m);
    s->macro = std::move(m);
    return s;
}

stmt_ptr program::builder::parse_call_block() {
    auto s = std::make_unique<stmt>(sk::call_block, cur().pos);
    next();
    auto m = std::make_shared<macro_def>();
    m->name = "caller";
    if (cur().type == tt::lparen) parse_signature(*m);
    expr_ptr call = parse_expression(true);
    if (call->kind != ek::call) syntax("expected call", s->pos);
    s->call = std::move(call);
    m->b = inner_statements({"endcall"}, true, loop_rule::reset);
    scan_special(m->b, *m);
    s->macro = std::move(m);
    return s;
}

stmt_ptr program::builder::parse_filter_block() {
    auto s = std::make_unique<stmt>(sk::filter_block, cur().pos);
    next();
    s->filter = parse_filter(nullptr, true);
    s->b = inner_statements({"endfilter"}, true, loop_rule::keep);
    return s;
}

stmt_ptr program::builder::parse_with() {
    auto s = std::make_unique<stmt>(sk::with, cur().pos);
    next();
    while (cur().type != tt::block_end) {
        if (!s->with_vars.empty()) expect(tt::comma);
        expr_ptr target = parse_assign_target(true, false, {}, false);
        expect(tt::assign);
        s->with_vars.emplace_back(std::move(target), parse_expression(true));
    }
    s->b = inner_statements({"endwith"}, true, loop_rule::keep);
    return s;
}

void program::builder::check_assignable_name(const std::string& n, std::size_t pos) {
    if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        syntax("can't assign to '" + n + "'", pos);
}

bool program::builder::can_assign(const expr& e) {
    if (e.kind == ek::name || e.kind == ek::nsref) return true;
    if (e.kind == ek::tuple) {
        for (const auto& x : e.items)
            if (!can_assign(*x)) return false;
        return true;
    }
    return false;
}

expr_ptr program::builder::parse_assign_target(bool with_tuple, bool name_only,
                                               std::vector<std::string> extra_end,
                                               bool with_namespace) {
    const std::size_t pos = cur().pos;
    expr_ptr target;
    if (with_namespace && look().type == tt::dot) {
        const token& ns = expect_name();
        next();
        const token& attr = expect_name();
        target = make(ek::nsref, pos);
        target->name = ns.text;
        target->symbol = intern(ns.text);
        target->attr = attr.text;
    } else if (name_only) {
        const token& n = expect_name();
        target = make(ek::name, pos);
        target->name = n.text;
        target->symbol = intern(n.text);
    } else {
        target =
            with_tuple ? parse_tuple(true, true, std::move(extra_end), false) : parse_primary();
    }
    if (!can_assign(*target)) syntax("can't assign to this expression", pos);
    check_target_names(*target);
    return target;
}

void program::builder::check_target_names(const expr& e) {
    if (e.kind == ek::name) check_assignable_name(e.name, e.pos);
    for (const auto& x : e.items) check_target_names(*x);
}

void program::builder::scan_special(const body& b, macro_def& m) {
    for (const auto& s : b) {
        if (!s) continue;
        if (s->kind == sk::macro) continue;  // a nested macro has its own
        for (const auto& p : s->parts) scan_special(p.e.get(), m);
        for (const auto& [t, bb] : s->branches) {
            scan_special(t.get(), m);
            scan_special(bb, m);
        }
        scan_special(s->else_body, m);
        scan_special(s->target.get(), m);
        scan_special(s->iter.get(), m);
        scan_special(s->test.get(), m);
        scan_special(s->b, m);
        scan_special(s->filter.get(), m);
        scan_special(s->call.get(), m);
        for (const auto& [t, v] : s->with_vars) scan_special(v.get(), m);
    }
}

void analyze_symbols(body& root, frame_decls& root_frame, int loop_symbol, int caller_symbol,
                     int varargs_symbol, int kwargs_symbol);

namespace {

/// jinja2 rejects an unknown filter or test when it compiles the template, except inside an
/// if statement or a conditional expression (a "soft" frame), where it fails only when reached.
void check_names(const expr* e, bool soft) {
    if (!e) return;
    if (e->kind == ek::condexpr) soft = true;
    if (e->kind == ek::filter && e->builtin < 0 && !soft)
        syntax("No filter named '" + e->name + "'.", e->pos);
    if (e->kind == ek::test && e->builtin < 0 && !soft)
        syntax("No test named '" + e->name + "'.", e->pos);
    check_names(e->a.get(), soft);
    check_names(e->b.get(), soft);
    check_names(e->c.get(), soft);
    for (const auto& x : e->items) check_names(x.get(), soft);
    for (const auto& x : e->values) check_names(x.get(), soft);
    for (const auto& [op, x] : e->ops) check_names(x.get(), soft);
    for (const auto& x : e->call.args) check_names(x.get(), soft);
    for (const auto& k : e->call.kwargs) check_names(k.value.get(), soft);
    check_names(e->call.dyn_args.get(), soft);
    check_names(e->call.dyn_kwargs.get(), soft);
}

void check_names(const body& b, bool soft) {
    for (const auto& sp : b) {
        const stmt& s = *sp;
        for (const auto& p : s.parts) check_names(p.e.get(), soft);
        switch (s.kind) {
            case sk::if_:
                for (const auto& [t, bb] : s.branches) {
                    check_names(t.get(), true);
                    check_names(bb, true);
                }
                check_names(s.else_body, true);
                break;
            case sk::for_:
                check_names(s.iter.get(), soft);
                check_names(s.test.get(), false);
                check_names(s.b, false);
                check_names(s.else_body, false);
                break;
            case sk::set:
                check_names(s.iter.get(), soft);
                break;
            case sk::set_block:
            case sk::filter_block:
                check_names(s.filter.get(), false);
                check_names(s.b, false);
                break;
            case sk::macro:
            case sk::call_block:
                for (const auto& d : s.macro->defaults) check_names(d.get(), false);
                check_names(s.macro->b, false);
                check_names(s.call.get(), soft);
                break;
            case sk::with:
                for (const auto& [t, v] : s.with_vars) check_names(v.get(), soft);
                check_names(s.b, false);
                break;
            case sk::scope:
                check_names(s.b, false);
                break;
            default:
                break;
        }
    }
}

}  // namespace

std::shared_ptr<const program> program::parse(std::string_view source) {
    auto prog = std::make_shared<program>();
    prog->source_ = normalize_source(source);
    builder b(*prog, lex(prog->source_));
    prog->root_ = b.subparse(nullptr);
    if (b.cur().type != tt::eof) b.unexpected("end of template");
    check_names(prog->root_, false);
    analyze_symbols(prog->root_, prog->root_frame_, prog->symbol("loop"), prog->symbol("caller"),
                    prog->symbol("varargs"), prog->symbol("kwargs"));
    return prog;
}

int program::symbol(std::string_view name) const noexcept {
    for (std::size_t k = 0; k < symbols_.size(); ++k)
        if (symbols_[k] == name) return static_cast<int>(k);
    return -1;
}

namespace {
std::string describe_in(const std::string& source_, std::size_t pos) {
    if (pos == no_pos || pos > source_.size()) return "template";
    std::size_t line = 1, line_start = 0;
    for (std::size_t k = 0; k < pos; ++k)
        if (source_[k] == '\n') {
            ++line;
            line_start = k + 1;
        }
    const std::size_t col =
        count_code_points(std::string_view(source_).substr(line_start, pos - line_start)) + 1;
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}
}  // namespace

std::string program::describe(std::size_t pos) const { return describe_in(source_, pos); }

std::string describe_position(std::string_view raw_source, std::size_t pos) {
    return describe_in(normalize_source(raw_source), pos);
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
