// SPDX-License-Identifier: Apache-2.0
/// @file Runtime objects of the Jinja interpreter (scopes, namespaces, macros, loops,
/// generators, functions) and Python's operators over values. Private to src/text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/value.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

struct scope;
using scope_ptr = std::shared_ptr<scope>;

/// One jinja2 frame: the variables it assigned, by interned name.
struct scope {
    std::vector<std::pair<int, value>> vars;
    scope_ptr parent;

    explicit scope(scope_ptr p = nullptr) : parent(std::move(p)) {}
    [[nodiscard]] const value* find(int sym) const noexcept {
        for (const scope* s = this; s; s = s->parent.get())
            for (const auto& [k, v] : s->vars)
                if (k == sym) return &v;
        return nullptr;
    }
    void set(int sym, value v) {
        for (auto& [k, old] : vars)
            if (k == sym) {
                old = std::move(v);
                return;
            }
        vars.emplace_back(sym, std::move(v));
    }
};

struct namespace_obj final : object_base {
    std::vector<std::pair<std::string, value>> attrs;
    [[nodiscard]] object_type type() const noexcept override { return object_type::ns; }
    [[nodiscard]] const value* find(const std::string& name) const noexcept {
        for (const auto& [k, v] : attrs)
            if (k == name) return &v;
        return nullptr;
    }
    void set(const std::string& name, value v) {
        for (auto& [k, old] : attrs)
            if (k == name) {
                old = std::move(v);
                return;
            }
        attrs.emplace_back(name, std::move(v));
    }
};

struct macro_obj final : object_base {
    std::shared_ptr<const macro_def> def;
    scope_ptr closure;
    value caller;  ///< a call block's caller, passed as `caller`
    [[nodiscard]] object_type type() const noexcept override { return object_type::macro; }
};

struct loop_obj final : object_base {
    std::shared_ptr<list_obj> items;
    std::size_t index0 = 0;
    value last_changed;  ///< loop.changed()'s last arguments (a tuple); undefined = none yet
    bool has_changed = false;
    [[nodiscard]] object_type type() const noexcept override { return object_type::loop; }
};

/// A single-use Python iterator: pull() yields the next item or returns false when exhausted.
struct generator_obj final : object_base {
    std::function<bool(value&)> pull;
    bool done = false;
    [[nodiscard]] object_type type() const noexcept override { return object_type::generator; }
    bool next(value& out) {
        if (done) return false;
        if (!pull(out)) {
            done = true;
            pull = nullptr;
            return false;
        }
        return true;
    }
};

enum class builtin_fn : std::uint8_t {
    range,
    dict,
    namespace_,
    raise_exception,
    strftime_now,
    lipsum,
    cycler,
    joiner,
};

struct builtin_obj final : object_base {
    builtin_fn fn;
    explicit builtin_obj(builtin_fn f) : fn(f) {}
    [[nodiscard]] object_type type() const noexcept override { return object_type::builtin; }
};

struct bound_method_obj final : object_base {
    value self;
    std::string name;
    [[nodiscard]] object_type type() const noexcept override { return object_type::bound_method; }
};

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
