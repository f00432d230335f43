// SPDX-License-Identifier: Apache-2.0
// Calls in the Jinja renderer: argument evaluation, jinja2's Macro (parameters, defaults, caller,
// varargs, kwargs), Python-style argument binding, and the global functions (range, dict,
// namespace, raise_exception, strftime_now).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/renderer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

arglist renderer::eval_args(const call_args& c, const scope_ptr& sc) {
    arglist a;
    for (const auto& x : c.args) a.pos.push_back(eval(*x, sc));
    if (c.dyn_args) {
        const value d = eval(*c.dyn_args, sc);
        for (auto& x : materialize(d)) a.pos.push_back(std::move(x));
    }
    for (const auto& k : c.kwargs) a.kw.emplace_back(k.name, eval(*k.value, sc));
    if (c.dyn_kwargs) {
        const value d = eval(*c.dyn_kwargs, sc);
        if (d.kind() != vk::dict)
            runtime_fail("TypeError: argument after ** must be a mapping, not " + type_name(d));
        for (const auto& [k, v] : d.dict().items) {
            if (!k.is_string()) runtime_fail("TypeError: keywords must be strings");
            a.kw.emplace_back(k.str(), v);
        }
    }
    return a;
}

value renderer::eval_call(const expr& e, const scope_ptr& sc, value caller) {
    const value callee = eval(*e.a, sc);
    arglist args = eval_args(e.call, sc);
    if (!caller.is_undefined()) args.kw.emplace_back("caller", std::move(caller));
    return call_value(callee, std::move(args));
}

value renderer::call_value(const value& callee, arglist args) {
    if (callee.is_undefined()) undefined_fail(callee);
    if (callee.kind() == vk::object) {
        switch (callee.obj().type()) {
            case object_type::macro:
                return call_macro(static_cast<const macro_obj&>(callee.obj()), std::move(args));
            case object_type::builtin:
                return call_builtin(static_cast<const builtin_obj&>(callee.obj()).fn,
                                    std::move(args));
            case object_type::bound_method: {
                const auto& m = static_cast<const bound_method_obj&>(callee.obj());
                return call_method(m.self, m.name, std::move(args));
            }
            default:
                break;
        }
    }
    runtime_fail("TypeError: '" + type_name(callee) + "' object is not callable");
}

value renderer::call_macro(const macro_obj& m, arglist args) {
    const macro_def& d = *m.def;
    if (++depth_ > env_.bounds.max_depth) {
        --depth_;
        fail(jinja_error::kind::limit, "macro calls nested too deeply");
    }
    struct depth_release {
        std::size_t& d;
        ~depth_release() { --d; }
    } release{depth_};
    auto sc = std::make_shared<scope>(m.closure);
    const std::size_t np = d.params.size();
    std::vector<bool> have(np, false);
    std::vector<value> extra_pos;
    for (std::size_t k = 0; k < args.pos.size(); ++k) {
        if (k < np) {
            sc->set(d.params[k], std::move(args.pos[k]));
            have[k] = true;
        } else {
            extra_pos.push_back(std::move(args.pos[k]));
        }
    }
    if (!extra_pos.empty() && !d.uses_varargs)
        runtime_fail("TypeError: macro '" + d.name + "' takes not more than " + std::to_string(np) +
                     " argument(s)");
    auto extra_kw = std::make_shared<dict_obj>();
    value caller;
    for (auto& [name, v] : args.kw) {
        bool matched = false;
        for (std::size_t k = 0; k < np; ++k) {
            if (d.param_names[k] == name) {
                if (have[k])
                    runtime_fail("TypeError: macro '" + d.name +
                                 "' got multiple values for argument '" + name + "'");
                sc->set(d.params[k], std::move(v));
                have[k] = true;
                matched = true;
                break;
            }
        }
        if (matched) continue;
        if (name == "caller" && d.uses_caller) {
            caller = std::move(v);
            continue;
        }
        if (!d.uses_kwargs)
            runtime_fail("TypeError: macro '" + d.name + "' takes no keyword argument '" + name +
                         "'");
        extra_kw->set(str_value(name), std::move(v));
    }
    enter_frame(*sc, d.frame);
    const std::size_t first_default = np - d.defaults.size();
    for (std::size_t k = 0; k < np; ++k) {
        if (have[k]) continue;
        if (k >= first_default) {
            sc->set(d.params[k], eval(*d.defaults[k - first_default], sc));
        } else {
            sc->set(d.params[k],
                    value::undefined("parameter '" + d.param_names[k] + "' was not provided"));
        }
    }
    if (d.uses_varargs) {
        const int sym = prog_.symbol("varargs");
        if (sym >= 0) sc->set(sym, tuple_of(std::move(extra_pos)));
    }
    if (d.uses_kwargs) {
        const int sym = prog_.symbol("kwargs");
        if (sym >= 0) sc->set(sym, value::from_dict(extra_kw));
    }
    if (d.uses_caller) {
        const int sym = prog_.symbol("caller");
        if (sym >= 0)
            sc->set(sym, caller.is_undefined() ? value::undefined("No caller defined") : caller);
    }
    std::string out;
    exec_body(d.b, sc, out);
    return str_value(std::move(out));
}

/// Binds Python-style arguments to @p params (in order); missing optional ones stay
/// undefined-kind with has=false.
std::vector<std::pair<bool, value>> renderer::bind(const char* fn, arglist& a,
                                                   std::initializer_list<param> params) {
    std::vector<std::pair<bool, value>> out(params.size());
    const auto* p = params.begin();
    if (a.pos.size() > params.size())
        runtime_fail(std::string("TypeError: ") + fn + "() takes at most " +
                     std::to_string(params.size()) + " arguments (" + std::to_string(a.pos.size()) +
                     " given)");
    for (std::size_t k = 0; k < a.pos.size(); ++k) out[k] = {true, std::move(a.pos[k])};
    for (auto& [name, v] : a.kw) {
        std::size_t k = 0;
        for (; k < params.size(); ++k)
            if (name == p[k].name) break;
        if (k == params.size())
            runtime_fail(std::string("TypeError: ") + fn +
                         "() got an unexpected keyword argument '" + name + "'");
        if (out[k].first)
            runtime_fail(std::string("TypeError: ") + fn + "() got multiple values for argument '" +
                         name + "'");
        out[k] = {true, std::move(v)};
    }
    for (std::size_t k = 0; k < params.size(); ++k)
        if (p[k].required && !out[k].first)
            runtime_fail(std::string("TypeError: ") + fn + "() missing required argument '" +
                         p[k].name + "'");
    return out;
}

std::int64_t renderer::int_arg(const value& v, const char* what) {
    if (v.is_int_like()) return v.as_int();
    if (v.is_undefined()) undefined_fail(v);
    runtime_fail(std::string("TypeError: ") + what + " must be an integer, not " + type_name(v));
}

const std::string& renderer::str_arg(const value& v, const char* what) {
    if (v.is_string()) return v.str();
    if (v.is_undefined()) undefined_fail(v);
    runtime_fail(std::string("TypeError: ") + what + " must be str, not " + type_name(v));
}

value renderer::call_builtin(builtin_fn fn, arglist a) {
    switch (fn) {
        case builtin_fn::range: {
            if (!a.kw.empty()) runtime_fail("TypeError: range() takes no keyword arguments");
            if (a.pos.empty() || a.pos.size() > 3)
                runtime_fail("TypeError: range expected 1 to 3 arguments");
            std::int64_t start = 0, stop, step = 1;
            if (a.pos.size() == 1) {
                stop = int_arg(a.pos[0], "range() argument");
            } else {
                start = int_arg(a.pos[0], "range() argument");
                stop = int_arg(a.pos[1], "range() argument");
                if (a.pos.size() == 3) step = int_arg(a.pos[2], "range() argument");
            }
            if (step == 0) runtime_fail("ValueError: range() arg 3 must not be zero");
            std::int64_t n = 0;
            if (step > 0 && start < stop) n = (stop - start - 1) / step + 1;
            if (step < 0 && start > stop) n = (start - stop - 1) / (-step) + 1;
            if (n > 100000)
                runtime_fail(
                    "OverflowError: Range too big. The sandbox blocks ranges larger than "
                    "MAX_RANGE (100000).");
            auto l = std::make_shared<list_obj>();
            l->type = list_type::range;
            l->range_start = start;
            l->range_stop = stop;
            l->range_step = step;
            for (std::int64_t k = 0; k < n; ++k)
                l->items.push_back(value::integer(start + k * step));
            return value::from_list(std::move(l));
        }
        case builtin_fn::dict:
        case builtin_fn::namespace_: {
            auto d = std::make_shared<dict_obj>();
            if (a.pos.size() > 1) runtime_fail("TypeError: dict expected at most 1 argument");
            if (a.pos.size() == 1) {
                const value& src = a.pos[0];
                if (src.kind() == vk::dict) {
                    for (const auto& [k, v] : src.dict().items) d->set(k, v);
                } else {
                    for (const auto& item : materialize(src)) {
                        std::vector<value> kv = materialize(item);
                        if (kv.size() != 2)
                            runtime_fail(
                                "ValueError: dictionary update sequence element has "
                                "wrong length");
                        require_hashable(kv[0]);
                        d->set(kv[0], kv[1]);
                    }
                }
            }
            for (auto& [k, v] : a.kw) d->set(str_value(k), std::move(v));
            if (fn == builtin_fn::dict) return value::from_dict(std::move(d));
            auto ns = std::make_shared<namespace_obj>();
            for (auto& [k, v] : d->items) {
                if (!k.is_string()) unsupported("namespace attributes must be strings");
                ns->set(k.str(), v);
            }
            return value::object(std::move(ns));
        }
        case builtin_fn::raise_exception: {
            auto b = bind("raise_exception", a, {{"message", true}});
            fail(jinja_error::kind::raised, py_str(b[0].second));
        }
        case builtin_fn::strftime_now: {
            auto b = bind("strftime_now", a, {{"format", true}});
            return str_value(strftime_now(str_arg(b[0].second, "format")));
        }
        case builtin_fn::lipsum:
        case builtin_fn::cycler:
        case builtin_fn::joiner:
            unsupported("lipsum, cycler and joiner are not supported");
    }
    unsupported("unknown function");
}

std::string renderer::strftime_now(const std::string& fmt) const {
    std::tm tm{};
    long micro = 0;
    if (env_.now) {
        tm = *env_.now;
    } else {
        const auto now = std::chrono::system_clock::now();
        const std::time_t t = std::chrono::system_clock::to_time_t(now);
        localtime_r(&t, &tm);
        micro = static_cast<long>(
            std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
            1000000);
    }
    // Python's datetime.strftime: %f, and %z / %Z of a naive datetime, are its own.
    std::string f;
    for (std::size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] == '%' && i + 1 < fmt.size()) {
            const char c = fmt[i + 1];
            if (c == 'f') {
                char b[16];
                std::snprintf(b, sizeof b, "%06ld", micro);
                f += b;
                ++i;
                continue;
            }
            if (c == 'z' || c == 'Z') {
                ++i;
                continue;
            }
            f += fmt[i];
            f += c;
            ++i;
            continue;
        }
        f += fmt[i];
    }
    if (f.empty()) return {};
    std::string out(256 + f.size() * 8, '\0');
    const std::size_t n = std::strftime(out.data(), out.size(), f.c_str(), &tm);
    if (n == 0) unsupported("strftime_now: the format produced no output or is too long");
    out.resize(n);
    return out;
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
