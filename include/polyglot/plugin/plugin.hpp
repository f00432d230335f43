// SPDX-License-Identifier: Apache-2.0
/// @file
/// Plugin-author helper: write a backend as a C++ class, let this header generate the C ABI
/// (include/polyglot/plugin/abi.h) around it. A plugin never hand-writes `extern "C"` glue:
///
///     class my_model : public polyglot::plugin_sdk::model { ... };
///     const polyglot::plugin_sdk::plugin_description& describe() {
///         static const polyglot::plugin_sdk::plugin_description d{
///             .name = "mine", .version = "0.1.0", .caps = POLYGLOT_CAP_EMBED,
///             .create = [](std::string_view config_json) -> std::unique_ptr<model> { ... }};
///         return d;
///     }
///     POLYGLOT_PLUGIN(describe)   // defines polyglot_plugin_entry and polyglot_plugin_score
///
/// Every generated entry point runs inside plugin_sdk::guard (POLYGLOT_PLUGIN_GUARD):
/// polyglot::error, std::exception and anything else thrown by the plugin become a status code and
/// a message; nothing crosses the boundary. Only the standard library and <polyglot/core/error.hpp>
/// are used here, so plugins stay light (no TBB, Boost or ICU unless they link them privately).
#pragma once

#include <polyglot/plugin/abi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <polyglot/core/error.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace plugin_sdk {

/// Thrown inside a plugin to return a specific status with a message.
class status_error : public std::runtime_error {
  public:
    status_error(polyglot_status status, const std::string& what)
        : std::runtime_error(what), status_(status) {}
    [[nodiscard]] polyglot_status status() const noexcept { return status_; }

  private:
    polyglot_status status_;
};

/// Non-owning view of a polyglot_text_batch.
class text_batch_view {
  public:
    explicit text_batch_view(const polyglot_text_batch& b) noexcept : b_(&b) {}
    [[nodiscard]] std::size_t size() const noexcept { return static_cast<std::size_t>(b_->n); }
    [[nodiscard]] std::string_view operator[](std::size_t i) const noexcept {
        return {b_->data + b_->offsets[i],
                static_cast<std::size_t>(b_->offsets[i + 1] - b_->offsets[i])};
    }
    [[nodiscard]] const polyglot_text_batch& raw() const noexcept { return *b_; }

  private:
    const polyglot_text_batch* b_;
};

/// What a plugin implements per loaded model. Unimplemented operations report UNSUPPORTED.
/// Thread-safety: embed() and tokenize() may be called concurrently (make them const-safe);
/// score() is called from one thread at a time.
class model {
  public:
    virtual ~model() = default;
    /// Whether this model can do @p op (POLYGLOT_OP_*).
    [[nodiscard]] virtual bool supports(polyglot_op op) const = 0;
    /// JSON object describing the model (identity, dim, ...) for report metadata.
    [[nodiscard]] virtual std::string info_json() const { return "{}"; }
    /// EMBED: embedding dimension.
    [[nodiscard]] virtual std::uint32_t dim() const { throw unsupported("embed"); }
    /// EMBED: texts.size() * dim() floats into @p out, row-major.
    virtual void embed(const text_batch_view& texts, float* out) const {
        (void)texts;
        (void)out;
        throw unsupported("embed");
    }
    /// TOKENIZE: appends the ids of @p text to @p out (flags: POLYGLOT_TOKENIZE_*).
    virtual void tokenize(std::string_view text, std::uint32_t flags,
                          std::vector<std::int32_t>& out) const {
        (void)text;
        (void)flags;
        (void)out;
        throw unsupported("tokenize");
    }
    /// SCORE: one result per (prompt, response) pair into @p out (prompts.size() entries).
    virtual void score(const text_batch_view& prompts, const text_batch_view& responses,
                       polyglot_score_result* out) {
        (void)prompts;
        (void)responses;
        (void)out;
        throw unsupported("score");
    }

  protected:
    static status_error unsupported(const char* op) {
        return status_error(POLYGLOT_STATUS_UNSUPPORTED,
                            std::string("this model does not support ") + op);
    }
};

/// Static description of a plugin, returned by the function passed to POLYGLOT_PLUGIN.
struct plugin_description {
    const char* name = nullptr;         ///< "cpu", "cuda", ...
    const char* version = nullptr;      ///< the plugin's version
    const char* description = nullptr;  ///< one line, or null
    std::uint64_t caps = 0;             ///< POLYGLOT_CAP_* bits
    /// Creates a model from the config JSON (see abi.h `create`). Throw to fail.
    std::unique_ptr<model> (*create)(std::string_view config_json) = nullptr;
    /// (optional) Usable-here score: 0 = unusable. Null = 1.
    std::int32_t (*score)() = nullptr;
    /// (optional) Devices; null = one unnamed device.
    std::vector<polyglot_device_info> (*devices)() = nullptr;
    /// (optional) Extensions by name.
    void* (*get_proc_address)(const char* name) = nullptr;
    /// (optional) Why score() returns 0 here.
    const char* (*unusable_reason)() = nullptr;
};

namespace detail {

inline std::string& last_error_slot() {
    thread_local std::string msg;
    return msg;
}

inline polyglot_status status_of(errc code) noexcept {
    switch (code) {
        case errc::io:
            return POLYGLOT_STATUS_IO_ERROR;
        case errc::format:
            return POLYGLOT_STATUS_FORMAT_ERROR;
        case errc::invalid_argument:
            return POLYGLOT_STATUS_INVALID_ARGUMENT;
        case errc::unsupported:
            return POLYGLOT_STATUS_UNSUPPORTED;
        default:
            return POLYGLOT_STATUS_INTERNAL;
    }
}

/// Maps the exception in flight to a status and stores its message as the thread's last
/// error. Call only from a catch block.
inline polyglot_status handle_exception() noexcept {
    polyglot_status st = POLYGLOT_STATUS_INTERNAL;
    const char* msg = "unknown exception";
    try {
        throw;
    } catch (const status_error& e) {
        st = e.status();
        msg = e.what();
    } catch (const polyglot::error& e) {
        st = status_of(e.code());
        msg = e.what();
    } catch (const std::bad_alloc& e) {
        st = POLYGLOT_STATUS_OUT_OF_MEMORY;
        msg = "out of memory";
    } catch (const std::invalid_argument& e) {
        st = POLYGLOT_STATUS_INVALID_ARGUMENT;
        msg = e.what();
    } catch (const std::exception& e) {
        st = POLYGLOT_STATUS_INTERNAL;
        msg = e.what();
    } catch (...) {
    }
    try {
        last_error_slot() = msg;
    } catch (...) {  // out of memory while storing the message: keep the status
    }
    return st;
}

inline void copy_message(const char* msg, char* err, std::size_t cap) noexcept {
    if (!err || cap == 0) return;
    std::size_t n = std::min(std::strlen(msg), cap - 1);
    std::memcpy(err, msg, n);
    err[n] = '\0';
}

}  // namespace detail

/// Runs @p body (a callable returning polyglot_status) so that no exception escapes: on
/// throw, returns the mapped status and stores the message for last_error.
template <class Body>
polyglot_status guard(Body&& body) noexcept {
    try {
        detail::last_error_slot().clear();
        return body();
    } catch (...) {
        return detail::handle_exception();
    }
}

/// For hand-written exports: `POLYGLOT_PLUGIN_GUARD(stmt; ...; return POLYGLOT_STATUS_OK;)`
/// runs the statements in plugin_sdk::guard and returns from the enclosing function with their
/// status, or with the mapped status of whatever they threw (message in last_error).
#define POLYGLOT_PLUGIN_GUARD(...) \
    return ::polyglot::plugin_sdk::guard([&]() -> polyglot_status { __VA_ARGS__ });

}  // namespace plugin_sdk
POLYGLOT_END_NAMESPACE

/// The opaque handle behind polyglot_model_t, private to each plugin (hidden visibility).
struct polyglot_model {
    std::unique_ptr<polyglot::plugin_sdk::model> impl;
};

POLYGLOT_BEGIN_NAMESPACE
namespace plugin_sdk::detail {

/// The generated function table for the plugin described by `Describe()`.
template <const plugin_description& (*Describe)()>
struct table_for {
    static polyglot_status create(const char* config, polyglot_model_t* out, char* err,
                                  std::size_t err_cap) noexcept {
        if (out) *out = nullptr;
        polyglot_status st = POLYGLOT_STATUS_OK;
        try {
            if (!out) throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, "create: out is NULL");
            const auto& d = Describe();
            if (!d.create) throw status_error(POLYGLOT_STATUS_UNSUPPORTED, "no create function");
            auto m = d.create(config ? std::string_view(config) : std::string_view("{}"));
            if (!m) throw status_error(POLYGLOT_STATUS_INTERNAL, "create returned no model");
            *out = new polyglot_model{std::move(m)};
            return POLYGLOT_STATUS_OK;
        } catch (...) {
            st = handle_exception();
        }
        copy_message(last_error_slot().c_str(), err, err_cap);
        return st;
    }
    static void destroy(polyglot_model_t m) noexcept {
        try {
            delete m;
        } catch (...) {  // a destructor that throws is a bug; never let it cross
        }
    }
    static const char* last_error(polyglot_model_t) noexcept { return last_error_slot().c_str(); }
    static int32_t supports(polyglot_model_t m, polyglot_op op) noexcept {
        try {
            return m && m->impl->supports(op) ? 1 : 0;
        } catch (...) {
            return 0;
        }
    }
    static polyglot_status get_info(polyglot_model_t m, char* buf, std::size_t cap,
                                    std::size_t* needed) noexcept {
        return guard([&] {
            check(m);
            const std::string s = m->impl->info_json();
            if (needed) *needed = s.size() + 1;
            if (!buf || cap < s.size() + 1) return POLYGLOT_STATUS_BUFFER_TOO_SMALL;
            std::memcpy(buf, s.c_str(), s.size() + 1);
            return POLYGLOT_STATUS_OK;
        });
    }
    static polyglot_status get_dim(polyglot_model_t m, std::uint32_t* dim) noexcept {
        return guard([&] {
            check(m);
            check_ptr(dim, "dim");
            *dim = m->impl->dim();
            return POLYGLOT_STATUS_OK;
        });
    }
    static polyglot_status embed(polyglot_model_t m, const polyglot_text_batch* texts, float* out,
                                 std::uint64_t out_count) noexcept {
        return guard([&] {
            check(m);
            check_batch(texts, "texts");
            const std::uint64_t dim = m->impl->dim();
            if (out_count != texts->n * dim)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "embed: out has " + std::to_string(out_count) +
                                       " floats, need " + std::to_string(texts->n * dim) +
                                       " (n * dim)");
            if (texts->n == 0) return POLYGLOT_STATUS_OK;
            check_ptr(out, "out");
            m->impl->embed(text_batch_view(*texts), out);
            return POLYGLOT_STATUS_OK;
        });
    }
    static polyglot_status tokenize(polyglot_model_t m, const polyglot_text_batch* texts,
                                    std::uint32_t flags, std::int32_t* ids, std::uint64_t ids_cap,
                                    std::uint64_t* offsets, std::uint64_t* needed) noexcept {
        return guard([&] {
            check(m);
            check_batch(texts, "texts");
            check_ptr(offsets, "offsets");
            const text_batch_view view(*texts);
            std::vector<std::int32_t> buf;
            std::uint64_t total = 0;
            offsets[0] = 0;
            for (std::size_t i = 0; i < view.size(); ++i) {
                buf.clear();
                m->impl->tokenize(view[i], flags, buf);
                if (ids && total + buf.size() <= ids_cap)
                    std::copy(buf.begin(), buf.end(), ids + total);
                total += buf.size();
                offsets[i + 1] = total;
            }
            if (needed) *needed = total;
            if (total > ids_cap || (total > 0 && !ids)) return POLYGLOT_STATUS_BUFFER_TOO_SMALL;
            return POLYGLOT_STATUS_OK;
        });
    }
    static polyglot_status score(polyglot_model_t m, const polyglot_text_batch* prompts,
                                 const polyglot_text_batch* responses,
                                 polyglot_score_result* out) noexcept {
        return guard([&] {
            check(m);
            check_batch(prompts, "prompts");
            check_batch(responses, "responses");
            if (prompts->n != responses->n)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "score: prompts and responses differ in size");
            if (prompts->n == 0) return POLYGLOT_STATUS_OK;
            check_ptr(out, "out");
            m->impl->score(text_batch_view(*prompts), text_batch_view(*responses), out);
            return POLYGLOT_STATUS_OK;
        });
    }
    static std::uint32_t device_count() noexcept {
        try {
            const auto& d = Describe();
            return d.devices ? static_cast<std::uint32_t>(d.devices().size()) : 1u;
        } catch (...) {
            return 0;
        }
    }
    static polyglot_status device_info(std::uint32_t index, polyglot_device_info* out) noexcept {
        return guard([&] {
            check_ptr(out, "out");
            if (out->struct_size < sizeof(std::uint32_t))
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "device_info: struct_size not set");
            const auto& d = Describe();
            polyglot_device_info info{};
            if (d.devices) {
                const auto all = d.devices();
                if (index >= all.size())
                    throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                       "device index out of range");
                info = all[index];
            } else {
                if (index != 0)
                    throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                       "device index out of range");
                copy_message(d.name, info.name, sizeof info.name);
            }
            // Never write past what the caller's (possibly older, smaller) struct holds.
            const std::size_t n = std::min<std::size_t>(out->struct_size, sizeof info);
            info.struct_size = static_cast<std::uint32_t>(n);
            std::memcpy(out, &info, n);
            return POLYGLOT_STATUS_OK;
        });
    }
    static void* get_proc_address(const char* name) noexcept {
        try {
            const auto& d = Describe();
            return d.get_proc_address && name ? d.get_proc_address(name) : nullptr;
        } catch (...) {
            return nullptr;
        }
    }

    static const char* unusable_reason() noexcept {
        try {
            const auto& d = Describe();
            const char* r = d.unusable_reason ? d.unusable_reason() : nullptr;
            return r ? r : "";
        } catch (...) {
            return "";
        }
    }

    static const polyglot_plugin_v1* entry(std::uint32_t host_abi) noexcept {
        // The table is returned whatever host_abi is: the host compares abi_version and says
        // which versions differ, which is a better message than a bare NULL.
        (void)host_abi;
        try {
            static const polyglot_plugin_v1 table = make();
            return &table;
        } catch (...) {
            return nullptr;
        }
    }
    static std::int32_t usable_score() noexcept {
        try {
            const auto& d = Describe();
            return d.score ? d.score() : 1;
        } catch (...) {
            return 0;
        }
    }

  private:
    static polyglot_plugin_v1 make() {
        const auto& d = Describe();
        polyglot_plugin_v1 t{};
        t.abi_version = POLYGLOT_PLUGIN_ABI_VERSION;
        t.struct_size = sizeof(polyglot_plugin_v1);
        t.name = d.name;
        t.version = d.version;
        t.caps = d.caps;
        t.description = d.description;
        t.create = &create;
        t.destroy = &destroy;
        t.last_error = &last_error;
        t.supports = &supports;
        t.get_info = &get_info;
        t.get_dim = &get_dim;
        t.embed = &embed;
        t.tokenize = &tokenize;
        t.score = &score;
        t.generate = nullptr;  // reserved for the GENERATE ABI revision
        t.device_count = &device_count;
        t.device_info = &device_info;
        t.get_proc_address = &get_proc_address;
        t.unusable_reason = &unusable_reason;
        return t;
    }
    static void check(polyglot_model_t m) {
        if (!m || !m->impl) throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, "model is NULL");
    }
    static void check_ptr(const void* p, const char* what) {
        if (!p)
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, std::string(what) + " is NULL");
    }
    static void check_batch(const polyglot_text_batch* b, const char* what) {
        check_ptr(b, what);
        if (b->n > 0 && (!b->offsets || !b->data))
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                               std::string(what) + ": data or offsets is NULL");
        if (b->n > 0 && b->offsets[0] != 0)
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                               std::string(what) + ": offsets[0] must be 0");
        for (std::uint64_t i = 0; i < b->n; ++i)
            if (b->offsets[i + 1] < b->offsets[i])
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   std::string(what) + ": offsets must not decrease");
    }
};

}  // namespace plugin_sdk::detail
POLYGLOT_END_NAMESPACE

/// Defines the plugin's two exports from `describe`, a function returning
/// `const polyglot::plugin_sdk::plugin_description&`. Use once per plugin, at global scope.
#define POLYGLOT_PLUGIN(describe)                                                      \
    extern "C" POLYGLOT_PLUGIN_EXPORT const polyglot_plugin_v1* polyglot_plugin_entry( \
        uint32_t host_abi) {                                                           \
        return ::polyglot::plugin_sdk::detail::table_for<&describe>::entry(host_abi);  \
    }                                                                                  \
    extern "C" POLYGLOT_PLUGIN_EXPORT int32_t polyglot_plugin_score(void) {            \
        return ::polyglot::plugin_sdk::detail::table_for<&describe>::usable_score();   \
    }                                                                                  \
    static_assert(true, "")
