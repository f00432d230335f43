// SPDX-License-Identifier: Apache-2.0
/// @file The renderer of the Jinja interpreter: one render of a program (jinja2's compiled
/// template plus its runtime). Its members are defined by room, as jinja2 lays them out:
/// interp.cpp (render, frames, limits, iteration), statements.cpp, expressions.cpp,
/// attributes.cpp (sandbox getattr/getitem), calls.cpp (macros, globals), methods.cpp (str, list,
/// dict methods), filters.cpp and tests.cpp. Private to src/text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/jinja.hpp"
#include "text/jinja/objects.hpp"
#include "text/jinja/pyobject.hpp"
#include "text/jinja/value.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

using kw_list = std::vector<std::pair<std::string, value>>;

/// The evaluated arguments of a call.
struct arglist {
    std::vector<value> pos;
    kw_list kw;
};

/// One render of a program. Not thread-safe; render() makes one per call.
class renderer {
  public:
    renderer(const program& p, const render_env& e) : prog_(p), env_(e) {}
    renderer(const renderer&) = delete;
    renderer& operator=(const renderer&) = delete;
    /// A macro holds the scope it was defined in (its closure) and that scope (or one above it)
    /// holds the macro: shared_ptr cycles that jinja2 leaves to Python's garbage collector. No
    /// value outlives a render (it returns text), so the cycles are cut here.
    ~renderer();

    std::string run();

    /// How a statement ends: normally or by a loop control.
    enum class flow { normal, break_, continue_ };

    /// A parameter of a built-in function, filter, test or method, for bind().
    struct param {
        const char* name;
        bool required;
    };

    // -- frames, sandbox limits and iteration (interp.cpp)

    void keep_closure(const scope_ptr& sc);
    value undefined_name(int sym) const;
    void enter_frame(scope& sc, const frame_decls& decls) const;
    void step();
    void step_n(std::size_t n);
    void check_size(std::size_t n) const;
    void emit(std::string& out, std::string_view s) const;
    std::vector<value> materialize(const value& v);
    value make_iter(const value& v);

    /// A lazily evaluated generator: @p body runs at the first pull (as a Python generator
    /// function's body does) and yields through @p out.
    template <class Fn>
    value lazy_generator(Fn fn) {
        auto g = std::make_shared<generator_obj>();
        g->pull = std::move(fn);
        return value::object(std::move(g));
    }

    // -- statements (statements.cpp)

    flow exec_body(const body& b, const scope_ptr& sc, std::string& out);
    flow exec(const stmt& s, const scope_ptr& sc, std::string& out);
    std::string capture(const body& b, const scope_ptr& sc);
    flow exec_inner(const stmt& s, const scope_ptr& sc, std::string& out);
    flow run_block(const stmt& s, const scope_ptr& sc, value& result);
    value apply_filter_chain(const expr& f, value input, const scope_ptr& sc);
    flow exec_for(const stmt& s, const scope_ptr& sc, std::string& out);
    void run_loop(const stmt& s, const scope_ptr& sc, const std::shared_ptr<list_obj>& items,
                  std::string& out, bool& completed);
    void assign(const expr& target, value v, const scope_ptr& sc);

    // -- expressions and operators (expressions.cpp)

    value eval(const expr& e, const scope_ptr& sc);
    value eval_inner(const expr& e, const scope_ptr& sc);
    static bool is_const(const expr& e);
    static bool slice_fails(const value& obj);
    bool compare(cmp_op op, const value& a, const value& b);
    bool contains(const value& hay, const value& needle);
    value negate(const value& v);
    [[noreturn]] void arith_fail(const char* op, const value& a, const value& b);
    static double py_fmod(double x, double y, double* floordiv);
    value repeat(const value& seq, std::int64_t n);
    value arith(ek op, const value& a, const value& b);

    // -- attributes and items, jinja2.sandbox's getattr / getitem (attributes.cpp)

    static bool is_str_method(std::string_view n);
    value bound(const value& self, std::string_view name);
    static value unsafe_attr(const value& obj, std::string_view name);
    value py_getattr(const value& obj, std::string_view name, bool& found);
    value loop_attr(const value& obj, std::string_view name, bool& found);
    static value missing_attr(const value& obj, std::string_view name);
    value get_attr(const value& obj, std::string_view name);
    value get_item(const value& obj, const value& key);
    value get_slice(const value& obj, const value& a, const value& b, const value& c);
    value attr_path(const value& item, const value& attribute);

    // -- calls: macros, global functions, argument binding (calls.cpp)

    arglist eval_args(const call_args& c, const scope_ptr& sc);
    value eval_call(const expr& e, const scope_ptr& sc, value caller);
    value call_value(const value& callee, arglist args);
    value call_macro(const macro_obj& m, arglist args);
    std::vector<std::pair<bool, value>> bind(const char* fn, arglist& a,
                                             std::initializer_list<param> params);
    static std::int64_t int_arg(const value& v, const char* what);
    static const std::string& str_arg(const value& v, const char* what);
    value call_builtin(builtin_fn fn, arglist a);
    std::string strftime_now(const std::string& fmt) const;

    // -- methods of str, list, dict and loop; str formatting (methods.cpp)

    value call_method(const value& self, const std::string& name, arglist a);
    value loop_method(const value& self, const std::string& name, arglist& a);
    value dict_method(const value& self, const std::string& name, arglist& a);
    value list_method(const value& self, const std::string& name, arglist& a);
    value str_result(std::string s, const value& self);
    value str_method(const value& self, const std::string& name, arglist& a);
    std::string pad(const std::string& s, std::size_t len, std::int64_t width,
                    const std::string& how);
    std::string str_format(const std::string& s, const arglist& a);
    std::string printf_format(const std::string& fmt, const arglist& a,
                              const dict_obj* mapping_arg = nullptr);

    // -- filters (filters.cpp)

    value call_filter_node(const expr& e, value input, const scope_ptr& sc);
    value call_filter_by_name(const value& name, value input, arglist args);
    value call_filter(int id, const std::string& name, value in, arglist a);

    // -- tests (tests.cpp)

    bool call_test_node(const expr& e, const scope_ptr& sc);
    bool call_test(int id, const value& v, const arglist& args_in);

  private:
    const program& prog_;
    const render_env& env_;
    const scope* context_ = nullptr;  ///< render variables, over the globals
    std::uint64_t steps_ = 0;
    std::size_t depth_ = 0;
    std::vector<scope_ptr> closures_;  ///< scopes that macros closed over (see ~renderer)
};

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
