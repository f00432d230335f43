// SPDX-License-Identifier: Apache-2.0
/// @file The Jinja syntax tree, as jinja2's parser builds it (jinja2/nodes.py), and the
/// interpreter's error type. Private to src/text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "text/jinja/value.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

inline constexpr std::size_t no_pos = static_cast<std::size_t>(-1);

/// Every failure of the interpreter. `pos` is a byte offset in the normalized template source
/// (no_pos until the node being evaluated fills it in).
struct jinja_error {
    enum class kind : std::uint8_t {
        syntax,       ///< the template does not parse (jinja2: TemplateSyntaxError)
        runtime,      ///< jinja2 raises while rendering (UndefinedError, TypeError, ...)
        raised,       ///< raise_exception(message)
        unsupported,  ///< valid Jinja/Python that this interpreter does not implement
        limit,        ///< a sandbox limit (output size, recursion, evaluation steps)
    };
    kind what;
    std::string message;
    std::size_t pos = no_pos;
};

[[noreturn]] void fail(jinja_error::kind k, std::string message, std::size_t pos = no_pos);
[[noreturn]] inline void runtime_fail(std::string message) {
    fail(jinja_error::kind::runtime, std::move(message));
}
[[noreturn]] inline void unsupported(std::string message) {
    fail(jinja_error::kind::unsupported, std::move(message));
}

// ---- expressions -----------------------------------------------------------------------------

enum class ek : std::uint8_t {
    constant,
    name,
    list,
    tuple,
    dict,
    getattr,
    getitem,
    slice,
    call,
    filter,
    test,
    not_,
    neg,
    pos,
    add,
    sub,
    mul,
    div,
    floordiv,
    mod,
    pow,
    and_,
    or_,
    concat,
    compare,
    condexpr,
    nsref,  ///< `ns.attr` as an assignment target
};

enum class cmp_op : std::uint8_t { eq, ne, lt, lteq, gt, gteq, in, notin };

struct expr;
using expr_ptr = std::unique_ptr<expr>;

struct keyword_arg {
    std::string name;
    expr_ptr value;
};

struct call_args {
    std::vector<expr_ptr> args;
    std::vector<keyword_arg> kwargs;
    expr_ptr dyn_args, dyn_kwargs;
};

struct expr {
    ek kind;
    std::size_t pos;
    value constant;    ///< ek::constant (never a list or dict: literals are built per evaluation)
    std::string name;  ///< name, getattr attribute, filter/test name, nsref namespace
    std::string attr;  ///< nsref attribute
    int symbol = -1;   ///< ek::name, ek::nsref: interned name
    int builtin = -1;  ///< ek::filter, ek::test: id in the filter/test table (-1 = unknown)
    expr_ptr a, b, c;  ///< operands: node / left / test; right / start; else / stop / step
    std::vector<expr_ptr> items;                   ///< list/tuple items, dict keys, concat parts
    std::vector<expr_ptr> values;                  ///< dict values
    std::vector<std::pair<cmp_op, expr_ptr>> ops;  ///< compare
    call_args call;                                ///< call, filter, test
    expr(ek k, std::size_t p) : kind(k), pos(p) {}
};

// ---- statements ------------------------------------------------------------------------------

enum class sk : std::uint8_t {
    output,  ///< template data and {{ expressions }}
    if_,
    for_,
    set,
    set_block,
    macro,
    call_block,
    filter_block,
    with,
    break_,
    continue_,
    scope,  ///< a body in its own scope ({% generation %})
};

struct stmt;
using stmt_ptr = std::unique_ptr<stmt>;
using body = std::vector<stmt_ptr>;

/// How a frame initialises a name it declares when it is entered (jinja2/idtracking.py):
/// jinja2 resolves names statically, per frame, not by a dynamic scope chain.
enum class load_kind : std::uint8_t {
    param,      ///< set by the construct (loop target, macro argument, `loop`, `caller`)
    resolve,    ///< the render variable or global of that name (or undefined)
    alias,      ///< the enclosing frame's current value, copied at entry
    undefined,  ///< undefined until assigned
};

struct frame_decl {
    int symbol;
    load_kind kind;
};
using frame_decls = std::vector<frame_decl>;

struct output_part {
    std::string data;  ///< template data, when expr is null
    expr_ptr e;
};

struct macro_def {
    std::string name;
    std::vector<int> params;  ///< interned names
    std::vector<std::string> param_names;
    std::vector<expr_ptr> defaults;  ///< for the last defaults.size() params
    body b;
    bool uses_caller = false, uses_varargs = false, uses_kwargs = false;
    int symbol = -1;
    frame_decls frame;  ///< the macro's (or call block caller's) frame
};

struct stmt {
    sk kind;
    std::size_t pos;
    std::vector<output_part> parts;                   ///< output
    std::vector<std::pair<expr_ptr, body>> branches;  ///< if / elif: test and body
    body else_body;                                   ///< if, for
    expr_ptr target, iter, test;  ///< for (target, iter, filter test); set (target, value in iter)
    body b;                       ///< for, set_block, filter_block, with, scope, call_block body
    expr_ptr filter;              ///< set_block / filter_block: filter chain over a null node
    std::shared_ptr<macro_def> macro;  ///< macro; call_block: the `caller` macro
    expr_ptr call;                     ///< call_block
    std::vector<std::pair<expr_ptr, expr_ptr>> with_vars;  ///< with: target, value
    /// The frame of the body (for, set_block, filter_block, with, scope), of a for loop's
    /// filter test and of its else block.
    frame_decls frame, test_frame, else_frame;
    stmt(sk k, std::size_t p) : kind(k), pos(p) {}
};

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
