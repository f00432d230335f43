// SPDX-License-Identifier: Apache-2.0
/// @file The value model of the Jinja interpreter: Python's objects as jinja2 sees them
/// (None, bool, int, float, str, list/tuple and dict views, dict, jinja2's Undefined and
/// Namespace, macros, loops, generators). Private to src/text.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

enum class vk : std::uint8_t {
    undefined,
    none,
    boolean,
    integer,
    floating,
    string,
    list,  ///< list, tuple, dict views, range (list_obj::type)
    dict,
    object,  ///< namespace, macro, loop, generator, builtin function, bound method
};

/// What a list_obj stands for in Python (repr, subscripting and + differ).
enum class list_type : std::uint8_t { list, tuple, dict_items, dict_keys, dict_values, range };

struct heap_obj {
    virtual ~heap_obj() = default;
};

class value;

struct string_obj final : heap_obj {
    std::string s;
    bool ascii;
    string_obj(std::string str, bool is_ascii) : s(std::move(str)), ascii(is_ascii) {}
};

/// Containers nest at most this deep (repr, ==, JSON and destruction recurse over them).
inline constexpr std::uint32_t max_nesting_depth = 500;
[[noreturn]] void nesting_limit();

// The destructors of the containers are defined after value (below): clang instantiates an
// implicit virtual destructor where the class is defined, when value is still incomplete.
struct list_obj final : heap_obj {
    ~list_obj() override;
    std::vector<value> items;
    std::uint32_t depth = 1;  ///< 1 + the deepest item's depth
    list_type type = list_type::list;
    std::int64_t range_start = 0, range_stop = 0, range_step = 1;  ///< list_type::range only
};

struct dict_obj final : heap_obj {
    ~dict_obj() override;
    std::vector<std::pair<value, value>> items;  ///< insertion order, as Python dicts
    std::uint32_t depth = 1;
    [[nodiscard]] const value* find(const value& key) const;
    [[nodiscard]] const value* find(std::string_view key) const;
    void set(value key, value v);
};

/// Why a value is undefined, for the message of the error raised when it is used.
struct undefined_obj final : heap_obj {
    std::string hint;
    bool unsafe = false;  ///< jinja2's sandbox: an attribute that may not be used (SecurityError)
    explicit undefined_obj(std::string h, bool u = false) : hint(std::move(h)), unsafe(u) {}
};

enum class object_type : std::uint8_t {
    ns,  ///< jinja2.utils.Namespace
    macro,
    loop,          ///< jinja2.runtime.LoopContext
    generator,     ///< a Python generator / iterator (single use)
    builtin,       ///< a global function (range, namespace, dict, raise_exception, ...)
    bound_method,  ///< receiver.method, not yet called
};

struct object_base : heap_obj {
    [[nodiscard]] virtual object_type type() const noexcept = 0;
};

class value {
  public:
    value() noexcept : k_(vk::undefined) {}

    static value none() noexcept {
        value v;
        v.k_ = vk::none;
        return v;
    }
    static value boolean(bool b) noexcept {
        value v;
        v.k_ = vk::boolean;
        v.i_ = b ? 1 : 0;
        return v;
    }
    static value integer(std::int64_t i) noexcept {
        value v;
        v.k_ = vk::integer;
        v.i_ = i;
        return v;
    }
    static value floating(double d) noexcept {
        value v;
        v.k_ = vk::floating;
        v.d_ = d;
        return v;
    }
    static value string(std::string s, bool markup = false);
    static value string(std::string s, bool markup, bool ascii) {
        value v;
        v.k_ = vk::string;
        v.flags_ = markup ? 1 : 0;
        v.p_ = std::make_shared<string_obj>(std::move(s), ascii);
        return v;
    }
    static value list(std::vector<value> items, list_type t = list_type::list) {
        auto l = std::make_shared<list_obj>();
        l->items = std::move(items);
        l->type = t;
        return from_list(std::move(l));
    }
    static value from_list(std::shared_ptr<list_obj> l) {
        std::uint32_t d = 1;
        for (const auto& x : l->items) d = std::max(d, x.nesting() + 1);
        if (d > max_nesting_depth) nesting_limit();
        l->depth = d;
        value v;
        v.k_ = vk::list;
        v.p_ = std::move(l);
        return v;
    }
    static value from_dict(std::shared_ptr<dict_obj> d) noexcept {
        value v;
        v.k_ = vk::dict;
        v.p_ = std::move(d);
        return v;
    }
    static value undefined(std::string hint, bool unsafe = false) {
        value v;
        v.p_ = std::make_shared<undefined_obj>(std::move(hint), unsafe);
        return v;
    }
    static value object(std::shared_ptr<object_base> o) noexcept {
        value v;
        v.k_ = vk::object;
        v.p_ = std::move(o);
        return v;
    }

    [[nodiscard]] vk kind() const noexcept { return k_; }
    [[nodiscard]] bool is_undefined() const noexcept { return k_ == vk::undefined; }
    [[nodiscard]] bool is_none() const noexcept { return k_ == vk::none; }
    [[nodiscard]] bool is_string() const noexcept { return k_ == vk::string; }
    [[nodiscard]] bool is_number() const noexcept {
        return k_ == vk::integer || k_ == vk::floating || k_ == vk::boolean;
    }
    /// Python's int (bool included).
    [[nodiscard]] bool is_int_like() const noexcept {
        return k_ == vk::integer || k_ == vk::boolean;
    }
    [[nodiscard]] bool is_markup() const noexcept { return k_ == vk::string && flags_ == 1; }

    [[nodiscard]] bool as_bool() const noexcept { return i_ != 0; }
    [[nodiscard]] std::int64_t as_int() const noexcept { return i_; }
    [[nodiscard]] double as_float() const noexcept { return d_; }
    /// int or bool or float as double.
    [[nodiscard]] double to_double() const noexcept {
        return k_ == vk::floating ? d_ : static_cast<double>(i_);
    }
    [[nodiscard]] const std::string& str() const noexcept {
        return static_cast<const string_obj*>(p_.get())->s;
    }
    [[nodiscard]] bool str_ascii() const noexcept {
        return static_cast<const string_obj*>(p_.get())->ascii;
    }
    [[nodiscard]] list_obj& list() const noexcept { return *static_cast<list_obj*>(p_.get()); }
    [[nodiscard]] const dict_obj& dict() const noexcept {
        return *static_cast<const dict_obj*>(p_.get());
    }
    [[nodiscard]] object_base& obj() const noexcept { return *static_cast<object_base*>(p_.get()); }
    [[nodiscard]] const undefined_obj* undef() const noexcept {
        return static_cast<const undefined_obj*>(p_.get());
    }
    [[nodiscard]] bool is_object(object_type t) const noexcept {
        return k_ == vk::object && obj().type() == t;
    }
    [[nodiscard]] const void* identity() const noexcept { return p_.get(); }
    /// Container nesting depth (0 for scalars and objects).
    [[nodiscard]] std::uint32_t nesting() const noexcept {
        if (k_ == vk::list) return static_cast<const list_obj*>(p_.get())->depth;
        if (k_ == vk::dict) return static_cast<const dict_obj*>(p_.get())->depth;
        return 0;
    }

  private:
    vk k_;
    std::uint8_t flags_ = 0;
    union {
        std::int64_t i_ = 0;
        double d_;
    };
    std::shared_ptr<heap_obj> p_;
};

inline list_obj::~list_obj() = default;
inline dict_obj::~dict_obj() = default;

bool is_ascii(std::string_view s) noexcept;

inline value value::string(std::string s, bool markup) {
    const bool a = is_ascii(s);
    return string(std::move(s), markup, a);
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
