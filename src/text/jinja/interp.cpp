// SPDX-License-Identifier: Apache-2.0
// The renderer of the Jinja interpreter: jinja2 3.1's runtime semantics (frames and scoping,
// Undefined, the ImmutableSandboxedEnvironment's attribute rules, LoopContext, macros) over
// Python's object semantics (truthiness, ==, <, arithmetic, str methods, filters, tests). This file
// holds render(), the frames, the sandbox limits and iteration; the rest of the renderer is laid
// out by room in statements.cpp, expressions.cpp, attributes.cpp, calls.cpp, methods.cpp,
// filters.cpp and tests.cpp (see renderer.hpp).
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

/// A macro holds the scope it was defined in (its closure) and that scope (or one above it)
/// holds the macro: shared_ptr cycles that jinja2 leaves to Python's garbage collector. No
/// value outlives a render (it returns text), so the cycles are cut here.
renderer::~renderer() {
    for (const scope_ptr& s : closures_) {
        s->vars.clear();
        s->parent.reset();
    }
}

std::string renderer::run() {
    auto globals = std::make_shared<scope>();
    auto add_global = [&](const char* name, builtin_fn fn) {
        const int sym = prog_.symbol(name);
        if (sym >= 0) globals->set(sym, value::object(std::make_shared<builtin_obj>(fn)));
    };
    add_global("range", builtin_fn::range);
    add_global("dict", builtin_fn::dict);
    add_global("namespace", builtin_fn::namespace_);
    add_global("raise_exception", builtin_fn::raise_exception);
    add_global("strftime_now", builtin_fn::strftime_now);
    add_global("lipsum", builtin_fn::lipsum);
    add_global("cycler", builtin_fn::cycler);
    add_global("joiner", builtin_fn::joiner);
    auto context = std::make_shared<scope>(globals);
    for (const auto& [name, v] : env_.vars) {
        const int sym = prog_.symbol(name);
        if (sym >= 0) context->set(sym, v);
    }
    context_ = context.get();
    auto root = std::make_shared<scope>(context);
    enter_frame(*root, prog_.root_frame());
    std::string out;
    exec_body(prog_.root(), root, out);
    return out;
}

void renderer::keep_closure(const scope_ptr& sc) {
    if (closures_.empty() || closures_.back() != sc) closures_.push_back(sc);
}

value renderer::undefined_name(int sym) const {
    return value::undefined("'" + prog_.symbol_name(sym) + "' is undefined");
}

/// jinja2's enter_frame: initialise the names @p decls declares in @p sc.
void renderer::enter_frame(scope& sc, const frame_decls& decls) const {
    for (const auto& d : decls) {
        switch (d.kind) {
            case load_kind::param:
                break;
            case load_kind::resolve: {
                const value* v = context_->find(d.symbol);
                sc.set(d.symbol, v ? *v : undefined_name(d.symbol));
                break;
            }
            case load_kind::alias: {
                const value* v = sc.parent ? sc.parent->find(d.symbol) : nullptr;
                sc.set(d.symbol, v ? *v : undefined_name(d.symbol));
                break;
            }
            case load_kind::undefined:
                sc.set(d.symbol, undefined_name(d.symbol));
                break;
        }
    }
}

void renderer::step() {
    if (++steps_ > env_.bounds.max_steps)
        fail(jinja_error::kind::limit, "the template took too many evaluation steps");
}

/// Charges the evaluation budget for copying @p n elements or bytes.
void renderer::step_n(std::size_t n) {
    steps_ += n / 64;
    step();
}

void renderer::check_size(std::size_t n) const {
    if (n > env_.bounds.max_output)
        fail(jinja_error::kind::limit, "the template built a string larger than " +
                                           std::to_string(env_.bounds.max_output) + " bytes");
}

void renderer::emit(std::string& out, std::string_view s) const {
    check_size(out.size() + s.size());
    out.append(s);
}

std::vector<value> renderer::materialize(const value& v) {
    switch (v.kind()) {
        case vk::undefined:
            return {};
        case vk::string:
            return str_chars(v);
        case vk::list:
            return v.list().items;
        case vk::dict: {
            std::vector<value> keys;
            keys.reserve(v.dict().items.size());
            for (const auto& [k, x] : v.dict().items) keys.push_back(k);
            return keys;
        }
        case vk::object:
            if (v.is_object(object_type::generator)) {
                auto& g = static_cast<generator_obj&>(v.obj());
                std::vector<value> out;
                value x;
                while (g.next(x)) {
                    step();
                    out.push_back(std::move(x));
                }
                return out;
            }
            if (v.is_object(object_type::loop))
                unsupported("iterating a loop object is not supported");
            [[fallthrough]];
        default:
            runtime_fail("TypeError: '" + type_name(v) + "' object is not iterable");
    }
}

/// A generator over @p v's items (Python's iter()).
value renderer::make_iter(const value& v) {
    if (v.is_object(object_type::generator)) return v;
    auto items = std::make_shared<std::vector<value>>(materialize(v));
    auto g = std::make_shared<generator_obj>();
    std::size_t k = 0;
    g->pull = [items, k](value& out) mutable {
        if (k >= items->size()) return false;
        out = (*items)[k++];
        return true;
    };
    return value::object(std::move(g));
}

std::string render(const program& prog, const render_env& env) {
    renderer r(prog, env);
    return r.run();
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
