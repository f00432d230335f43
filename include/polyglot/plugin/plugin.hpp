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
#include <limits>
#include <memory>
#include <new>
#include <span>
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

/// Non-owning view of a batch of texts (a polyglot_text_batch or a polyglot_texts), already
/// validated by the generated glue.
class text_batch_view {
  public:
    text_batch_view() = default;
    explicit text_batch_view(const polyglot_text_batch& b) noexcept
        : data_(b.data), offsets_(b.offsets), n_(static_cast<std::size_t>(b.n)) {}
    explicit text_batch_view(const polyglot_texts& b) noexcept
        : data_(b.data), offsets_(b.offsets), n_(static_cast<std::size_t>(b.n)) {}
    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    [[nodiscard]] std::string_view operator[](std::size_t i) const noexcept {
        return {data_ + offsets_[i], static_cast<std::size_t>(offsets_[i + 1] - offsets_[i])};
    }

  private:
    const char* data_ = nullptr;
    const std::uint64_t* offsets_ = nullptr;
    std::size_t n_ = 0;
};

/// Non-owning view of a polyglot_id_batch, already validated by the generated glue.
class id_batch_view {
  public:
    id_batch_view() = default;
    explicit id_batch_view(const polyglot_id_batch& b) noexcept
        : ids_(b.ids), offsets_(b.offsets), n_(static_cast<std::size_t>(b.n)) {}
    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    [[nodiscard]] std::span<const std::int32_t> operator[](std::size_t i) const noexcept {
        return {ids_ + offsets_[i], static_cast<std::size_t>(offsets_[i + 1] - offsets_[i])};
    }
    /// Offset of sequence i's first id in the flat id array (for outputs laid out like it).
    [[nodiscard]] std::uint64_t offset(std::size_t i) const noexcept { return offsets_[i]; }

  private:
    const std::int32_t* ids_ = nullptr;
    const std::uint64_t* offsets_ = nullptr;
    std::size_t n_ = 0;
};

/// The caller's per-call hooks (polyglot_call_context), safe to use when absent.
class call_context {
  public:
    call_context() = default;
    explicit call_context(const polyglot_call_context* c) noexcept
        : c_(c && c->struct_size >= sizeof(polyglot_call_context) ? c : nullptr) {}
    /// True when the caller asked to stop.
    [[nodiscard]] bool cancelled() const noexcept { return c_ && c_->cancel && *c_->cancel != 0; }
    /// Reports progress (no-op without a callback). Not thread-safe: call from one thread, or
    /// serialise.
    void progress(std::uint64_t done, std::uint64_t total, std::uint64_t tokens) const noexcept {
        if (c_ && c_->progress) c_->progress(c_->user, done, total, tokens);
    }
    /// Whether per-item failures can be reported (else the first one fails the call).
    [[nodiscard]] bool reports_items() const noexcept { return c_ && c_->item_error; }
    /// Reports item @p index as failed when the caller takes per-item failures; otherwise
    /// throws status_error naming the item, failing the call.
    void item_failed(std::uint64_t index, polyglot_status status, const std::string& message) const;

  private:
    const polyglot_call_context* c_ = nullptr;
};

/// A validated GENERATE request (the raw C struct plus views of its arrays).
struct generate_call {
    explicit generate_call(const polyglot_generate_request& r) noexcept
        : raw(r), prompt_kind(r.prompt_kind) {}
    const polyglot_generate_request& raw;
    int prompt_kind = POLYGLOT_PROMPT_TEXT;
    text_batch_view prompts;    ///< TEXT / MESSAGES (empty for IDS)
    id_batch_view prompt_ids;   ///< IDS (empty otherwise)
    std::vector<std::string_view> stop;
    std::span<const std::int32_t> stop_ids;
    std::string_view json_schema;  ///< "" = unconstrained
    std::string_view extra_json;   ///< "" = none
    [[nodiscard]] std::size_t size() const noexcept {
        return prompt_kind == POLYGLOT_PROMPT_IDS ? prompt_ids.size() : prompts.size();
    }
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


    // ---- ABI 1.1 --------------------------------------------------------------------------
    /// EMBED with per-call hooks (per-item failures: ctx.item_failed, rows then unspecified).
    /// Default: embed(texts, out).
    virtual void embed_batch(const text_batch_view& texts, float* out,
                             const call_context& ctx) const {
        (void)ctx;
        embed(texts, out);
    }
    /// SCORE with per-call hooks. Default: score(prompts, responses, out).
    virtual void score_batch(const text_batch_view& prompts, const text_batch_view& responses,
                             polyglot_score_result* out, const call_context& ctx) {
        (void)ctx;
        score(prompts, responses, out);
    }
    /// SCORE_IDS: see polyglot_score_ids_request. @p logprobs (and @p greedy when not null) are
    /// laid out like the ids of @p seqs (seqs.offset(i) + p), already filled with NaN / 0.
    virtual void score_ids(const id_batch_view& seqs, const std::uint64_t* score_from,
                           float* logprobs, std::uint8_t* greedy, const call_context& ctx) {
        (void)seqs, (void)score_from, (void)logprobs, (void)greedy, (void)ctx;
        throw unsupported("score_ids");
    }
    /// DETOKENIZE: appends the text of @p ids to @p out (flags: POLYGLOT_DETOKENIZE_*).
    virtual void detokenize(std::span<const std::int32_t> ids, std::uint32_t flags,
                            std::string& out) const {
        (void)ids, (void)flags, (void)out;
        throw unsupported("detokenize");
    }
    /// GENERATE: fills items[0, call.size()) (buffers validated: ids_cap >= max_new_tokens).
    /// Per-item outcomes in items[i].status; ctx.item_failed for reporting.
    virtual void generate(const generate_call& call, polyglot_generation* items,
                          const call_context& ctx) {
        (void)call, (void)items, (void)ctx;
        throw unsupported("generate");
    }

  protected:
    static status_error unsupported(const char* op) {
        return status_error(POLYGLOT_STATUS_UNSUPPORTED,
                            std::string("this model does not support ") + op);
    }
};

inline void call_context::item_failed(std::uint64_t index, polyglot_status status,
                                      const std::string& message) const {
    if (reports_items()) {
        c_->item_error(c_->user, index, status, message.c_str());
        return;
    }
    throw status_error(status, "item " + std::to_string(index) + ": " + message);
}

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
            m->impl->embed_batch(text_batch_view(*texts), out, call_context());
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
            return tokenize_view(m, text_batch_view(*texts), flags, ids, ids_cap, offsets, needed);
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
            m->impl->score_batch(text_batch_view(*prompts), text_batch_view(*responses), out,
                                 call_context());
            return POLYGLOT_STATUS_OK;
        });
    }
    // ---- ABI 1.1 members ---------------------------------------------------------------
    static polyglot_status embed_texts(polyglot_model_t m, const polyglot_texts* texts, float* out,
                                       std::uint64_t out_cap,
                                       const polyglot_call_context* ctx) noexcept {
        return guard([&] {
            check(m);
            check_ptr(texts, "texts");
            check_size(texts->struct_size, sizeof(polyglot_texts), "texts");
            // Sizes first: a batch whose n * dim overflows is refused before its offsets are
            // read.
            const std::uint64_t dim = m->impl->dim();
            std::uint64_t need = 0;
            if (__builtin_mul_overflow(texts->n, dim, &need))
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "embed: n * dim overflows 64 bits");
            if (out_cap < need)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "embed: out has " + std::to_string(out_cap) +
                                       " floats, need " + std::to_string(need) + " (n * dim)");
            check_texts(texts, "texts");
            if (texts->n == 0) return POLYGLOT_STATUS_OK;
            check_ptr(out, "out");
            const call_context c(ctx);
            m->impl->embed_batch(text_batch_view(*texts), out, c);
            return c.cancelled() ? POLYGLOT_STATUS_CANCELLED : POLYGLOT_STATUS_OK;
        });
    }
    static polyglot_status tokenize_texts(polyglot_model_t m, const polyglot_texts* texts,
                                          std::uint32_t flags, std::int32_t* ids,
                                          std::uint64_t ids_cap, std::uint64_t* offsets,
                                          std::uint64_t offsets_cap,
                                          std::uint64_t* needed) noexcept {
        return guard([&] {
            check(m);
            check_texts(texts, "texts");
            check_ptr(offsets, "offsets");
            if (offsets_cap < texts->n + 1)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "tokenize: offsets_cap must be at least n + 1");
            return tokenize_view(m, text_batch_view(*texts), flags, ids, ids_cap, offsets, needed);
        });
    }
    static polyglot_status score_texts(polyglot_model_t m, const polyglot_texts* prompts,
                                       const polyglot_texts* responses, polyglot_score_result* out,
                                       std::uint64_t out_cap,
                                       const polyglot_call_context* ctx) noexcept {
        return guard([&] {
            check(m);
            check_texts(prompts, "prompts");
            check_texts(responses, "responses");
            if (prompts->n != responses->n)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "score: prompts and responses differ in size");
            if (out_cap < prompts->n)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "score: out has " + std::to_string(out_cap) +
                                       " entries, need " + std::to_string(prompts->n));
            if (prompts->n == 0) return POLYGLOT_STATUS_OK;
            check_ptr(out, "out");
            const call_context c(ctx);
            m->impl->score_batch(text_batch_view(*prompts), text_batch_view(*responses), out, c);
            return c.cancelled() ? POLYGLOT_STATUS_CANCELLED : POLYGLOT_STATUS_OK;
        });
    }
    static polyglot_status score_ids(polyglot_model_t m,
                                     const polyglot_score_ids_request* r) noexcept {
        return guard([&] {
            check(m);
            check_ptr(r, "request");
            check_size(r->struct_size, sizeof(polyglot_score_ids_request), "score_ids request");
            check_ids(r->seqs, "seqs");
            if (r->seqs->n == 0) return POLYGLOT_STATUS_OK;
            check_ptr(r->score_from, "score_from");
            check_ptr(r->logprobs, "logprobs");
            if (r->out_cap < r->seqs->ids_size)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "score_ids: out_cap " + std::to_string(r->out_cap) +
                                       " < ids_size " + std::to_string(r->seqs->ids_size));
            std::fill_n(r->logprobs, r->seqs->ids_size,
                        std::numeric_limits<float>::quiet_NaN());
            if (r->greedy) std::fill_n(r->greedy, r->seqs->ids_size, std::uint8_t{0});
            const call_context c(r->ctx);
            m->impl->score_ids(id_batch_view(*r->seqs), r->score_from, r->logprobs, r->greedy, c);
            return c.cancelled() ? POLYGLOT_STATUS_CANCELLED : POLYGLOT_STATUS_OK;
        });
    }
    static polyglot_status detokenize(polyglot_model_t m, const polyglot_id_batch* seqs,
                                      std::uint32_t flags, char* text, std::uint64_t text_cap,
                                      std::uint64_t* offsets, std::uint64_t offsets_cap,
                                      std::uint64_t* needed) noexcept {
        return guard([&] {
            check(m);
            check_ids(seqs, "seqs");
            check_ptr(offsets, "offsets");
            if (offsets_cap < seqs->n + 1)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "detokenize: offsets_cap must be at least n + 1");
            const id_batch_view view(*seqs);
            return pack<std::string>(
                view.size(),
                [&](std::size_t i, std::string& buf) { m->impl->detokenize(view[i], flags, buf); },
                text, text_cap, offsets, needed);
        });
    }
    static polyglot_status generate(polyglot_model_t m, const polyglot_generate_request* r,
                                    polyglot_generate_result* res) noexcept {
        return guard([&] {
            check(m);
            check_ptr(r, "request");
            check_ptr(res, "result");
            check_size(r->struct_size, sizeof(polyglot_generate_request), "generate request");
            check_size(res->struct_size, sizeof(polyglot_generate_result), "generate result");
            generate_call call(*r);
            switch (r->prompt_kind) {
                case POLYGLOT_PROMPT_TEXT:
                case POLYGLOT_PROMPT_MESSAGES:
                    check_texts(r->prompts, "prompts");
                    call.prompts = text_batch_view(*r->prompts);
                    break;
                case POLYGLOT_PROMPT_IDS:
                    check_ids(r->prompt_ids, "prompt_ids");
                    call.prompt_ids = id_batch_view(*r->prompt_ids);
                    break;
                default:
                    throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                       "generate: unknown prompt_kind " +
                                           std::to_string(r->prompt_kind));
            }
            if (r->max_new_tokens == 0)
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "generate: max_new_tokens must be at least 1");
            if (res->n_items != call.size())
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   "generate: " + std::to_string(res->n_items) +
                                       " result items for " + std::to_string(call.size()) +
                                       " prompts");
            if (call.size() == 0) return POLYGLOT_STATUS_OK;
            check_ptr(res->items, "result items");
            for (std::uint64_t i = 0; i < res->n_items; ++i) {
                auto& it = res->items[i];
                check_size(it.struct_size, sizeof(polyglot_generation), "generation item");
                if (it.ids_cap < r->max_new_tokens || (!it.ids && it.ids_cap > 0))
                    throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                       "generate: item " + std::to_string(i) +
                                           ": ids_cap must be at least max_new_tokens");
                if (!it.text && it.text_cap > 0)
                    throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                       "generate: item " + std::to_string(i) + ": text is NULL");
                it.text_len = 0;
                it.n_ids = 0;
                it.finish_reason = POLYGLOT_FINISH_NONE;
                it.prompt_tokens = 0;
                it.status = POLYGLOT_STATUS_OK;
            }
            if (r->stop) {
                check_texts(r->stop, "stop");
                const text_batch_view sv(*r->stop);
                call.stop.reserve(sv.size());
                for (std::size_t i = 0; i < sv.size(); ++i) call.stop.push_back(sv[i]);
            }
            if (r->n_stop_ids > 0) {
                check_ptr(r->stop_ids, "stop_ids");
                call.stop_ids = {r->stop_ids, static_cast<std::size_t>(r->n_stop_ids)};
            }
            if (r->json_schema) call.json_schema = r->json_schema;
            if (r->extra_json) call.extra_json = r->extra_json;
            const call_context c(r->ctx);
            m->impl->generate(call, res->items, c);
            return c.cancelled() ? POLYGLOT_STATUS_CANCELLED : POLYGLOT_STATUS_OK;
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
    // The size protocol of every variable-length output of the ABI: item i's output (from
    // produce(i, buf)) goes to out[offsets[i], offsets[i + 1]) while it fits in cap; offsets and
    // *needed always get the full sizes, so a caller can retry with a large enough buffer.
    template <class Buf, class T, class Produce>
    static polyglot_status pack(std::size_t n, Produce&& produce, T* out, std::uint64_t cap,
                                std::uint64_t* offsets, std::uint64_t* needed) {
        Buf buf;
        std::uint64_t total = 0;
        offsets[0] = 0;
        for (std::size_t i = 0; i < n; ++i) {
            buf.clear();
            produce(i, buf);
            if (out && total + buf.size() <= cap) std::copy(buf.begin(), buf.end(), out + total);
            total += buf.size();
            offsets[i + 1] = total;
        }
        if (needed) *needed = total;
        if (total > cap || (total > 0 && !out)) return POLYGLOT_STATUS_BUFFER_TOO_SMALL;
        return POLYGLOT_STATUS_OK;
    }
    static polyglot_status tokenize_view(polyglot_model_t m, const text_batch_view& view,
                                         std::uint32_t flags, std::int32_t* ids,
                                         std::uint64_t ids_cap, std::uint64_t* offsets,
                                         std::uint64_t* needed) {
        return pack<std::vector<std::int32_t>>(
            view.size(),
            [&](std::size_t i, std::vector<std::int32_t>& buf) {
                m->impl->tokenize(view[i], flags, buf);
            },
            ids, ids_cap, offsets, needed);
    }
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
        t.generate = (d.caps & POLYGLOT_CAP_GENERATE) ? &generate : nullptr;
        t.device_count = &device_count;
        t.device_info = &device_info;
        t.get_proc_address = &get_proc_address;
        t.unusable_reason = &unusable_reason;
        t.embed_texts = &embed_texts;
        t.tokenize_texts = &tokenize_texts;
        t.score_texts = &score_texts;
        t.score_ids = &score_ids;
        t.detokenize = &detokenize;
        return t;
    }
    static void check(polyglot_model_t m) {
        if (!m || !m->impl) throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, "model is NULL");
    }
    static void check_ptr(const void* p, const char* what) {
        if (!p)
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, std::string(what) + " is NULL");
    }
    static void check_size(std::uint32_t got, std::size_t want, const char* what) {
        // Structs may grow at their end: a caller built against an older header passes a
        // smaller struct_size. None has grown yet, so anything smaller is malformed.
        if (got < want)
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                               std::string(what) + ": struct_size " + std::to_string(got) +
                                   " is smaller than " + std::to_string(want));
    }
    /// offsets[0] == 0, non-decreasing, offsets[n] <= size.
    static void check_offsets(const std::uint64_t* offsets, std::uint64_t n, std::uint64_t size,
                              const char* what) {
        if (offsets[0] != 0)
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                               std::string(what) + ": offsets[0] must be 0");
        for (std::uint64_t i = 0; i < n; ++i)
            if (offsets[i + 1] < offsets[i])
                throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                   std::string(what) + ": offsets must not decrease");
        if (offsets[n] > size)
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                               std::string(what) + ": offsets[n] = " + std::to_string(offsets[n]) +
                                   " is beyond the buffer's " + std::to_string(size) + " entries");
    }
    static void check_texts(const polyglot_texts* b, const char* what) {
        check_ptr(b, what);
        check_size(b->struct_size, sizeof(polyglot_texts), what);
        check_ptr(b->offsets, what);
        if (b->data_size > 0) check_ptr(b->data, what);
        check_offsets(b->offsets, b->n, b->data_size, what);
    }
    static void check_ids(const polyglot_id_batch* b, const char* what) {
        check_ptr(b, what);
        check_size(b->struct_size, sizeof(polyglot_id_batch), what);
        check_ptr(b->offsets, what);
        if (b->ids_size > 0) check_ptr(b->ids, what);
        check_offsets(b->offsets, b->n, b->ids_size, what);
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
