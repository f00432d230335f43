// SPDX-License-Identifier: Apache-2.0
// The statements of the Jinja renderer (jinja2's compiled template code): output, if, for (with
// its filter test, else block and loop controls), set and set blocks, macro and call blocks,
// filter blocks, with, and assignment to names, tuples and namespace attributes.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

renderer::flow renderer::exec_body(const body& b, const scope_ptr& sc, std::string& out) {
    for (const auto& s : b) {
        const flow f = exec(*s, sc, out);
        if (f != flow::normal) return f;
    }
    return flow::normal;
}

renderer::flow renderer::exec(const stmt& s, const scope_ptr& sc, std::string& out) {
    step();
    try {
        return exec_inner(s, sc, out);
    } catch (jinja_error& e) {
        if (e.pos == no_pos) e.pos = s.pos;
        throw;
    }
}

std::string renderer::capture(const body& b, const scope_ptr& sc) {
    std::string out;
    exec_body(b, sc, out);
    return out;
}

renderer::flow renderer::exec_inner(const stmt& s, const scope_ptr& sc, std::string& out) {
    switch (s.kind) {
        case sk::output:
            for (const auto& p : s.parts) {
                if (!p.e) {
                    emit(out, p.data);
                } else {
                    const value v = eval(*p.e, sc);
                    if (v.is_string()) {
                        emit(out, v.str());
                    } else {
                        std::string t;
                        try {
                            py_str(v, t);
                        } catch (jinja_error& e) {
                            if (e.pos == no_pos) e.pos = p.e->pos;
                            throw;
                        }
                        emit(out, t);
                    }
                }
            }
            return flow::normal;
        case sk::if_:
            for (const auto& [test, b] : s.branches)
                if (truthy(eval(*test, sc))) return exec_body(b, sc, out);
            return exec_body(s.else_body, sc, out);
        case sk::for_:
            return exec_for(s, sc, out);
        case sk::set:
            assign(*s.target, eval(*s.iter, sc), sc);
            return flow::normal;
        case sk::set_block: {
            value v;
            const flow f = run_block(s, sc, v);
            if (f != flow::normal) return f;
            assign(*s.target, std::move(v), sc);
            return flow::normal;
        }
        case sk::macro: {
            auto m = std::make_shared<macro_obj>();
            m->def = s.macro;
            m->closure = sc;
            keep_closure(sc);
            sc->set(s.macro->symbol, value::object(std::move(m)));
            return flow::normal;
        }
        case sk::call_block: {
            auto caller = std::make_shared<macro_obj>();
            caller->def = s.macro;
            caller->closure = sc;
            keep_closure(sc);
            const value r = eval_call(*s.call, sc, value::object(std::move(caller)));
            emit(out, py_str(r));
            return flow::normal;
        }
        case sk::filter_block: {
            value v;
            const flow f = run_block(s, sc, v);
            if (f != flow::normal) return f;
            emit(out, py_str(v));
            return flow::normal;
        }
        case sk::with: {
            auto inner = std::make_shared<scope>(sc);
            std::vector<value> vals;
            for (const auto& [t, v] : s.with_vars) vals.push_back(eval(*v, sc));
            enter_frame(*inner, s.frame);
            for (std::size_t k = 0; k < vals.size(); ++k)
                assign(*s.with_vars[k].first, vals[k], inner);
            return exec_body(s.b, inner, out);
        }
        case sk::scope: {
            auto inner = std::make_shared<scope>(sc);
            enter_frame(*inner, s.frame);
            emit(out, capture(s.b, inner));
            return flow::normal;
        }
        case sk::break_:
            return flow::break_;
        case sk::continue_:
            return flow::continue_;
    }
    return flow::normal;
}

/// A set block's or filter block's body, captured in its own frame and passed through the
/// block's filter. break/continue leave the block with nothing assigned or written: jinja2
/// buffers the body inline, so the loop jumps before that happens.
renderer::flow renderer::run_block(const stmt& s, const scope_ptr& sc, value& result) {
    auto inner = std::make_shared<scope>(sc);
    enter_frame(*inner, s.frame);
    std::string buf;
    const flow f = exec_body(s.b, inner, buf);
    if (f != flow::normal) return f;
    result = str_value(std::move(buf));
    if (s.filter) result = apply_filter_chain(*s.filter, std::move(result), inner);
    return flow::normal;
}

/// Applies a filter chain parsed over a null node (set blocks, filter blocks) to @p input.
value renderer::apply_filter_chain(const expr& f, value input, const scope_ptr& sc) {
    value v = f.a ? apply_filter_chain(*f.a, std::move(input), sc) : std::move(input);
    return call_filter_node(f, std::move(v), sc);
}

renderer::flow renderer::exec_for(const stmt& s, const scope_ptr& sc, std::string& out) {
    const value iterable = eval(*s.iter, sc);
    std::vector<value> all = materialize(iterable);
    auto items = std::make_shared<list_obj>();
    if (s.test) {
        for (auto& x : all) {
            auto probe = std::make_shared<scope>(sc);
            assign(*s.target, x, probe);
            enter_frame(*probe, s.test_frame);
            if (truthy(eval(*s.test, probe))) items->items.push_back(std::move(x));
        }
    } else {
        items->items = std::move(all);
    }
    // jinja2 runs the else block unless some iteration reached the end of the body
    // (break and continue skip its "iteration happened" marker)
    bool completed = false;
    if (!items->items.empty()) run_loop(s, sc, items, out, completed);
    if (!completed && !s.else_body.empty()) {
        // after the loop, inside any enclosing loop
        auto inner = std::make_shared<scope>(sc);
        enter_frame(*inner, s.else_frame);
        return exec_body(s.else_body, inner, out);
    }
    return flow::normal;
}

void renderer::run_loop(const stmt& s, const scope_ptr& sc, const std::shared_ptr<list_obj>& items,
                        std::string& out, bool& completed) {
    const int loop_sym = prog_.symbol("loop");
    auto lp = std::make_shared<loop_obj>();
    lp->items = items;
    const value loop_value = value::object(lp);
    auto inner = std::make_shared<scope>(sc);
    for (std::size_t k = 0; k < items->items.size(); ++k) {
        step();
        lp->index0 = k;
        inner->vars.clear();
        assign(*s.target, items->items[k], inner);
        if (loop_sym >= 0) inner->set(loop_sym, loop_value);
        enter_frame(*inner, s.frame);
        const flow f = exec_body(s.b, inner, out);
        if (f == flow::break_) break;
        if (f == flow::normal) completed = true;
    }
}

void renderer::assign(const expr& target, value v, const scope_ptr& sc) {
    switch (target.kind) {
        case ek::name:
            sc->set(target.symbol, std::move(v));
            return;
        case ek::tuple: {
            std::vector<value> items = materialize(v);
            if (items.size() != target.items.size()) {
                if (items.size() > target.items.size())
                    runtime_fail("ValueError: too many values to unpack (expected " +
                                 std::to_string(target.items.size()) + ")");
                runtime_fail("ValueError: not enough values to unpack (expected " +
                             std::to_string(target.items.size()) + ", got " +
                             std::to_string(items.size()) + ")");
            }
            for (std::size_t k = 0; k < items.size(); ++k)
                assign(*target.items[k], std::move(items[k]), sc);
            return;
        }
        case ek::nsref: {
            const value* ns = sc->find(target.symbol);
            if (!ns || !ns->is_object(object_type::ns))
                runtime_fail(
                    "TemplateRuntimeError: cannot assign attribute on non-namespace object");
            static_cast<namespace_obj&>(ns->obj()).set(target.attr, std::move(v));
            return;
        }
        default:
            fail(jinja_error::kind::syntax, "can't assign to this expression", target.pos);
    }
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
