// SPDX-License-Identifier: Apache-2.0
/// @file The parser of the Jinja interpreter: a transcription of jinja2 3.1's parser.py into a
/// recursive-descent parser over lexer.hpp's tokens, building the tree of ast.hpp. Statements
/// are parsed in parser.cpp, expressions in parse_expr.cpp. Private to src/text.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/jinja.hpp"
#include "text/jinja/lexer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

constexpr std::size_t max_nesting = 100;  ///< nested expressions / blocks (jinja2 hits Python's
                                          ///< recursion limit somewhere above this)

struct program::builder {
    program& prog;
    std::vector<token> toks;
    std::size_t i = 0;
    std::unordered_map<std::string, int> symbols;
    int loop_depth = 0;  ///< for loops around the current statement (break/continue)
    std::size_t depth = 0;
    std::vector<std::string> end_stack;

    builder(program& p, std::vector<token> t) : prog(p), toks(std::move(t)) {}

    struct depth_guard {
        builder& b;
        explicit depth_guard(builder& bb, std::size_t pos) : b(bb) {
            if (++b.depth > max_nesting)
                fail(jinja_error::kind::limit, "template nesting is too deep", pos);
        }
        ~depth_guard() { --b.depth; }
    };

    const token& cur() const { return toks[i]; }
    const token& look() const { return toks[std::min(i + 1, toks.size() - 1)]; }
    const token& next() {
        const token& t = toks[i];
        if (i + 1 < toks.size()) ++i;
        return t;
    }
    bool is_name(std::string_view v) const { return cur().type == tt::name && cur().text == v; }
    bool skip_name(std::string_view v) {
        if (!is_name(v)) return false;
        next();
        return true;
    }
    bool skip(tt t) {
        if (cur().type != t) return false;
        next();
        return true;
    }
    [[noreturn]] void unexpected(const char* wanted) const {
        const token& t = cur();
        std::string got = t.type == tt::name ? "'" + t.text + "'" : token_name(t.type);
        if (t.type == tt::eof) {
            std::string m = "unexpected end of template";
            if (!end_stack.empty()) m += ", expected '" + end_stack.back() + "'";
            syntax(m, t.pos);
        }
        syntax(std::string("expected ") + wanted + ", got " + got, t.pos);
    }
    const token& expect(tt t) {
        if (cur().type != t) unexpected(token_name(t));
        return next();
    }
    const token& expect_name() {
        if (cur().type != tt::name) unexpected("name");
        return next();
    }
    void expect_name(std::string_view v) {
        if (!is_name(v)) unexpected(("'" + std::string(v) + "'").c_str());
        next();
    }

    int intern(const std::string& name) {
        auto [it, inserted] = symbols.emplace(name, static_cast<int>(prog.symbols_.size()));
        if (inserted) prog.symbols_.push_back(name);
        return it->second;
    }

    static expr_ptr make(ek k, std::size_t pos) { return std::make_unique<expr>(k, pos); }

    enum class loop_rule { enter, keep, reset };

    // -- templates and statements (parser.cpp)

    static void scan_special(const body& b, macro_def& m);
    body subparse(const std::vector<std::string>* end_tokens);
    body parse_statements(std::vector<std::string> ends, bool drop_needle);
    body inner_statements(std::vector<std::string> ends, bool drop_needle, loop_rule loop);
    stmt_ptr parse_statement();
    stmt_ptr parse_if();
    stmt_ptr parse_for();
    stmt_ptr parse_set();
    void parse_signature(macro_def& m);
    static void scan_special(const expr* e, macro_def& m);
    stmt_ptr parse_macro();
    stmt_ptr parse_call_block();
    stmt_ptr parse_filter_block();
    stmt_ptr parse_with();
    void check_assignable_name(const std::string& n, std::size_t pos);
    static bool can_assign(const expr& e);
    expr_ptr parse_assign_target(bool with_tuple, bool name_only,
                                 std::vector<std::string> extra_end, bool with_namespace);
    void check_target_names(const expr& e);

    // -- expressions (parse_expr.cpp)

    expr_ptr parse_expression(bool with_condexpr);
    expr_ptr parse_condexpr();
    expr_ptr binary(ek k, std::size_t pos, expr_ptr l, expr_ptr r);
    expr_ptr parse_or();
    expr_ptr parse_and();
    expr_ptr parse_not();
    expr_ptr parse_compare();
    expr_ptr parse_math1();
    expr_ptr parse_concat();
    expr_ptr parse_math2();
    expr_ptr parse_pow();
    expr_ptr parse_unary(bool with_filter);
    expr_ptr parse_primary();
    bool is_tuple_end(const std::vector<std::string>& extra) const;
    expr_ptr parse_tuple(bool simplified, bool with_condexpr, std::vector<std::string> extra,
                         bool explicit_parens);
    expr_ptr parse_postfix(expr_ptr node);
    expr_ptr parse_filter_expr(expr_ptr node);
    expr_ptr parse_subscript(expr_ptr node);
    expr_ptr parse_subscribed();
    call_args parse_call_args();
    expr_ptr parse_call(expr_ptr node);
    expr_ptr parse_filter(expr_ptr node, bool start_inline);
    expr_ptr parse_test(expr_ptr node);
};

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
