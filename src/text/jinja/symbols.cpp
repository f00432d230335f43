// SPDX-License-Identifier: Apache-2.0
// Static name resolution of the Jinja interpreter: a port of jinja2 3.1's idtracking.py
// (Symbols, FrameSymbolVisitor, RootVisitor) over ast.hpp. jinja2 compiles every frame (the
// template, a for body, a macro, a set/filter/with block) to Python locals that are initialised
// when the frame is entered: from the render variables (resolve), from the enclosing frame's
// variable (alias), as undefined, or as parameters. So a name assigned anywhere at template
// level is undefined in a macro called before the assignment, even when a render variable of
// that name exists; a dynamic scope chain would get such templates wrong.
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "text/jinja/ast.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

// Declared in parser.cpp's program::builder.
void analyze_symbols(body& root, frame_decls& root_frame, int loop_symbol, int caller_symbol,
                     int varargs_symbol, int kwargs_symbol);

namespace {

struct symbols {
    const symbols* parent = nullptr;
    std::vector<int> order;  ///< names in the order they were first declared
    std::unordered_map<int, load_kind> loads;
    std::unordered_set<int> stores;

    explicit symbols(const symbols* p) : parent(p) {}

    [[nodiscard]] bool has_ref(int n) const { return loads.count(n) != 0; }
    [[nodiscard]] bool find_ref(int n) const {
        for (const symbols* s = this; s; s = s->parent)
            if (s->has_ref(n)) return true;
        return false;
    }
    void define(int n, load_kind k) {
        if (!has_ref(n)) order.push_back(n);
        loads[n] = k;
    }
    void store(int n) {
        stores.insert(n);
        if (has_ref(n)) return;
        define(n, parent && parent->find_ref(n) ? load_kind::alias : load_kind::undefined);
    }
    void declare_parameter(int n) {
        stores.insert(n);
        define(n, load_kind::param);
    }
    void load(int n) {
        if (!find_ref(n)) define(n, load_kind::resolve);
    }
    void branch_update(const std::vector<symbols>& branches) {
        std::vector<std::pair<int, std::size_t>> counts;  // stores not already made here
        for (const auto& b : branches) {
            for (int t : b.stores) {
                if (stores.count(t)) continue;
                bool found = false;
                for (auto& [n, c] : counts)
                    if (n == t) {
                        ++c;
                        found = true;
                    }
                if (!found) counts.emplace_back(t, 1);
            }
        }
        for (const auto& b : branches) {
            for (int n : b.order) define(n, b.loads.at(n));
            stores.insert(b.stores.begin(), b.stores.end());
        }
        for (const auto& [n, c] : counts) {
            if (c == branches.size()) continue;
            loads[n] = parent && parent->find_ref(n) ? load_kind::alias : load_kind::resolve;
        }
    }
    [[nodiscard]] frame_decls decls() const {
        frame_decls out;
        for (int n : order) out.push_back(frame_decl{n, loads.at(n)});
        return out;
    }
};

class analyzer {
  public:
    analyzer(int loop_sym, int caller_sym, int varargs_sym, int kwargs_sym)
        : loop_(loop_sym), caller_(caller_sym), varargs_(varargs_sym), kwargs_(kwargs_sym) {}

    /// The loads of an expression (jinja2 visits expressions only for Name / NSRef loads).
    void loads(const expr* e, symbols& s) {
        if (!e) return;
        if (e->kind == ek::name) s.load(e->symbol);
        if (e->kind == ek::nsref) s.load(e->symbol);
        loads(e->a.get(), s);
        loads(e->b.get(), s);
        loads(e->c.get(), s);
        for (const auto& x : e->items) loads(x.get(), s);
        for (const auto& x : e->values) loads(x.get(), s);
        for (const auto& [op, x] : e->ops) loads(x.get(), s);
        for (const auto& x : e->call.args) loads(x.get(), s);
        for (const auto& k : e->call.kwargs) loads(k.value.get(), s);
        loads(e->call.dyn_args.get(), s);
        loads(e->call.dyn_kwargs.get(), s);
    }

    void target(const expr& t, symbols& s, bool as_param) {
        switch (t.kind) {
            case ek::name:
                if (as_param) {
                    s.declare_parameter(t.symbol);
                } else {
                    s.store(t.symbol);
                }
                return;
            case ek::nsref:
                s.load(t.symbol);
                return;
            default:
                for (const auto& x : t.items) target(*x, s, as_param);
        }
    }

    /// FrameSymbolVisitor over the statements of one frame (not into nested frames).
    void frame_pass(const body& b, symbols& s) {
        for (const auto& st : b) frame_stmt(*st, s);
    }

    void frame_stmt(const stmt& st, symbols& s) {
        switch (st.kind) {
            case sk::output:
                for (const auto& p : st.parts) loads(p.e.get(), s);
                return;
            case sk::if_: {
                loads(st.branches[0].first.get(), s);
                symbols body_syms = s;
                frame_pass(st.branches[0].second, body_syms);
                // the elifs: one list of If nodes visited in one copy
                symbols elif_syms = s;
                for (std::size_t k = 1; k < st.branches.size(); ++k) {
                    loads(st.branches[k].first.get(), elif_syms);
                    symbols b = elif_syms;
                    frame_pass(st.branches[k].second, b);
                    std::vector<symbols> parts{b, elif_syms, elif_syms};
                    elif_syms.branch_update(parts);
                }
                symbols else_syms = s;
                frame_pass(st.else_body, else_syms);
                std::vector<symbols> parts{body_syms, elif_syms, else_syms};
                s.branch_update(parts);
                return;
            }
            case sk::for_:
                loads(st.iter.get(), s);
                return;
            case sk::set:
                loads(st.iter.get(), s);
                target(*st.target, s, false);
                return;
            case sk::set_block:
                target(*st.target, s, false);
                return;
            case sk::macro:
                s.store(st.macro->symbol);
                return;
            case sk::call_block:
                loads(st.call.get(), s);
                return;
            case sk::filter_block:
                loads(st.filter.get(), s);
                return;
            case sk::with:
                for (const auto& [t, v] : st.with_vars) loads(v.get(), s);
                return;
            case sk::scope:
            case sk::break_:
            case sk::continue_:
                return;
        }
    }

    void macro_frame(macro_def& m, const symbols& parent) {
        symbols f(&parent);
        for (int p : m.params) f.declare_parameter(p);
        for (const auto& d : m.defaults) loads(d.get(), f);
        frame_pass(m.b, f);
        if (m.uses_caller && caller_ >= 0) f.declare_parameter(caller_);
        if (m.uses_kwargs && kwargs_ >= 0) f.declare_parameter(kwargs_);
        if (m.uses_varargs && varargs_ >= 0) f.declare_parameter(varargs_);
        m.frame = f.decls();
        nested_pass(m.b, f);
    }

    /// Analyses the frames nested in @p b (a body of the frame @p s), with @p s complete.
    void nested_pass(body& b, const symbols& s) {
        for (auto& stp : b) {
            stmt& st = *stp;
            switch (st.kind) {
                case sk::if_:
                    for (auto& [t, bb] : st.branches) nested_pass(bb, s);
                    nested_pass(st.else_body, s);
                    break;
                case sk::for_: {
                    symbols f(&s);
                    target(*st.target, f, true);
                    frame_pass(st.b, f);
                    if (loop_ >= 0) f.declare_parameter(loop_);
                    st.frame = f.decls();
                    nested_pass(st.b, f);
                    if (st.test) {
                        symbols t(&s);
                        target(*st.target, t, true);
                        loads(st.test.get(), t);
                        st.test_frame = t.decls();
                    }
                    symbols e(&s);
                    frame_pass(st.else_body, e);
                    st.else_frame = e.decls();
                    nested_pass(st.else_body, e);
                    break;
                }
                case sk::macro:
                    macro_frame(*st.macro, s);
                    break;
                case sk::call_block:
                    macro_frame(*st.macro, s);
                    break;
                case sk::set_block:
                case sk::scope: {
                    symbols f(&s);
                    frame_pass(st.b, f);
                    st.frame = f.decls();
                    nested_pass(st.b, f);
                    break;
                }
                case sk::filter_block: {
                    symbols f(&s);
                    loads(st.filter.get(), f);
                    frame_pass(st.b, f);
                    st.frame = f.decls();
                    nested_pass(st.b, f);
                    break;
                }
                case sk::with: {
                    symbols f(&s);
                    for (const auto& [t, v] : st.with_vars) target(*t, f, true);
                    frame_pass(st.b, f);
                    st.frame = f.decls();
                    nested_pass(st.b, f);
                    break;
                }
                default:
                    break;
            }
        }
    }

  private:
    int loop_, caller_, varargs_, kwargs_;
};

}  // namespace

void analyze_symbols(body& root, frame_decls& root_frame, int loop_symbol, int caller_symbol,
                     int varargs_symbol, int kwargs_symbol) {
    analyzer a(loop_symbol, caller_symbol, varargs_symbol, kwargs_symbol);
    symbols r(nullptr);
    a.frame_pass(root, r);
    root_frame = r.decls();
    a.nested_pass(root, r);
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
