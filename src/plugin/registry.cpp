// SPDX-License-Identifier: Apache-2.0
// The plugin host: discovery, loading with Boost.DLL (error_code overloads, rtld_now |
// rtld_local, never unloaded), table validation, backend selection, and the RAII model wrapper.
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#ifndef POLYGLOT_PLUGIN_INSTALL_DIR
#define POLYGLOT_PLUGIN_INSTALL_DIR ""
#endif

POLYGLOT_BEGIN_NAMESPACE
namespace plugin {
namespace fs = std::filesystem;

namespace {

/// Bytes every ABI-1 table must have: up to and including the last version-1 member.
constexpr std::size_t v1_min_size = offsetof(polyglot_plugin_v1, unusable_reason) + sizeof(void*);

struct load_outcome {
    plugin_ptr plugin;
    std::string error;
};

/// Process-lifetime state. Libraries are never unloaded: a plugin may have started threads,
/// registered atexit handlers or handed out pointers into its code (Boost.DLL FAQ,
/// ggml's registry). The state is intentionally leaked so that no destructor ever runs
/// dlclose at exit either.
struct registry_state {
    std::mutex mutex;  // dlopen from one thread at a time (not thread-safe on macOS)
    std::vector<std::shared_ptr<boost::dll::shared_library>> libraries;
    std::map<std::string, load_outcome> by_path;  // canonical path -> outcome
};

registry_state& state() {
    static auto* s = new registry_state();  // leaked on purpose, see above
    return *s;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

const std::regex& plugin_file_regex() {
    static const std::regex re(
        R"(^(lib)?polyglot-([a-z0-9_]+)(-[A-Za-z0-9_.]+)?\.(so|dylib|dll)$)");
    return re;
}

/// The plugin name encoded in a file name, "" if the name does not follow the pattern.
std::string name_from_file(const fs::path& file) {
    std::smatch m;
    std::string fn = file.filename().string();
    if (std::regex_match(fn, m, plugin_file_regex())) return m[2].str();
    return {};
}

bool looks_like_path(std::string_view s) {
    auto ends = [&](std::string_view suf) {
        return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
    };
    return s.find('/') != std::string_view::npos || s.find('\\') != std::string_view::npos ||
           ends(".so") || ends(".dylib") || ends(".dll");
}

std::string join_paths(const std::vector<fs::path>& v) {
    std::string out;
    for (const auto& p : v) {
        if (!out.empty()) out += ", ";
        out += p.string();
    }
    return out.empty() ? "(nothing)" : out;
}

std::string caps_string(std::uint64_t caps) {
    std::string out;
    for (const auto& n : capability_names(caps)) {
        if (!out.empty()) out += ",";
        out += n;
    }
    return out.empty() ? "none" : out;
}

/// Loads and validates one file; the registry mutex must be held.
load_outcome load_locked(const fs::path& file) {
    registry_state& st = state();
    auto lib = std::make_shared<boost::dll::shared_library>();
    boost::dll::fs::error_code ec;
#if !defined(_WIN32)
    ::dlerror();  // clear any stale message
#endif
    lib->load(file, ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    if (ec || !lib->is_loaded()) {
        std::string why;
#if !defined(_WIN32)
        // Boost.DLL's error_code overload leaves dlerror() intact on failure: it has the
        // loader's own reason (not an ELF file, missing dependency, undefined symbol, ...).
        if (const char* d = ::dlerror()) why = d;
#endif
        if (why.empty()) why = ec ? ec.message() : "unknown loader error";
        return {nullptr, "cannot load plugin " + quoted(file) + ": " + why};
    }
    st.libraries.push_back(lib);  // never unloaded, whatever happens next

    if (!lib->has(POLYGLOT_PLUGIN_ENTRY_SYMBOL))
        return {nullptr, quoted(file) + " is not a polyglot plugin: it does not export " +
                             POLYGLOT_PLUGIN_ENTRY_SYMBOL + "()"};

    std::int32_t score = 1;
    if (lib->has(POLYGLOT_PLUGIN_SCORE_SYMBOL)) {
        auto& score_fn = lib->get<std::int32_t()>(POLYGLOT_PLUGIN_SCORE_SYMBOL);
        score = score_fn();
        if (score < 0) score = 0;
    }

    auto& entry = lib->get<const polyglot_plugin_v1*(std::uint32_t)>(POLYGLOT_PLUGIN_ENTRY_SYMBOL);
    const polyglot_plugin_v1* table = entry(POLYGLOT_PLUGIN_ABI_VERSION);
    if (!table)
        return {nullptr, "plugin " + quoted(file) + ": " + POLYGLOT_PLUGIN_ENTRY_SYMBOL +
                             "() returned NULL: the plugin failed to initialise or cannot serve "
                             "a host speaking plugin ABI " +
                             std::to_string(POLYGLOT_PLUGIN_ABI_VERSION)};
    // The header {abi_version, struct_size, name, version, caps} is identical in every ABI
    // version, so it can be read before the version check.
    std::string ident;
    if (table->struct_size >= offsetof(polyglot_plugin_v1, caps) + sizeof(std::uint64_t) &&
        table->name)
        ident =
            std::string(" ('") + table->name + "' " + (table->version ? table->version : "") + ")";
    if (table->abi_version != POLYGLOT_PLUGIN_ABI_VERSION)
        return {nullptr, "plugin " + quoted(file) + ident + " was built for plugin ABI " +
                             std::to_string(table->abi_version) + ", but this host speaks ABI " +
                             std::to_string(POLYGLOT_PLUGIN_ABI_VERSION) +
                             ": rebuild the plugin against this version of polyglot"};
    if (table->struct_size < v1_min_size)
        return {nullptr, "plugin " + quoted(file) + ident + ": function table is " +
                             std::to_string(table->struct_size) + " bytes, ABI " +
                             std::to_string(POLYGLOT_PLUGIN_ABI_VERSION) + " needs at least " +
                             std::to_string(v1_min_size)};
    if (!table->name || !valid_name(table->name))
        return {nullptr,
                "plugin " + quoted(file) + ": invalid name (want 1-64 characters of [a-z0-9_])"};
    const char* missing = !table->create       ? "create"
                          : !table->destroy    ? "destroy"
                          : !table->last_error ? "last_error"
                          : !table->supports   ? "supports"
                                               : nullptr;
    if (missing)
        return {nullptr,
                "plugin " + quoted(file) + ident + ": required function '" + missing + "' is NULL"};

    std::string unusable;
    if (score == 0) {
        if (table->unusable_reason) {
            const char* r = table->unusable_reason();
            if (r) unusable = r;
        }
        if (unusable.empty()) unusable = "the plugin reports it cannot run on this machine";
    }
    auto p = std::make_shared<const loaded_plugin>(loaded_plugin::private_tag{}, lib, table, file,
                                                   score, std::move(unusable));
    return {p, {}};
}

std::string canonical_key(const fs::path& file) {
    std::error_code ec;
    auto c = fs::canonical(file, ec);
    return ec ? fs::absolute(file, ec).lexically_normal().string() : c.string();
}

/// Throws the polyglot error matching a plugin status.
[[noreturn]] void throw_status(polyglot_status st, const std::string& msg) {
    switch (st) {
        case POLYGLOT_STATUS_IO_ERROR:
            throw io_error(msg);
        case POLYGLOT_STATUS_FORMAT_ERROR:
            throw format_error(msg);
        case POLYGLOT_STATUS_INVALID_ARGUMENT:
            throw argument_error(msg);
        case POLYGLOT_STATUS_UNSUPPORTED:
            throw unsupported_error(msg);
        default:
            throw plugin_error(msg);
    }
}

/// Throws the polyglot error class matching @p code (keeps io_error an io_error, ...).
[[noreturn]] void rethrow_as(errc code, const std::string& msg) {
    switch (code) {
        case errc::io:
            throw io_error(msg);
        case errc::format:
            throw format_error(msg);
        case errc::invalid_argument:
            throw argument_error(msg);
        case errc::unsupported:
            throw unsupported_error(msg);
        case errc::plugin:
            throw plugin_error(msg);
        default:
            throw error(code, msg);
    }
}

const char* status_name(polyglot_status st) {
    switch (st) {
        case POLYGLOT_STATUS_OK:
            return "ok";
        case POLYGLOT_STATUS_INVALID_ARGUMENT:
            return "invalid argument";
        case POLYGLOT_STATUS_UNSUPPORTED:
            return "unsupported";
        case POLYGLOT_STATUS_OUT_OF_MEMORY:
            return "out of memory";
        case POLYGLOT_STATUS_DEVICE_ERROR:
            return "device error";
        case POLYGLOT_STATUS_INTERNAL:
            return "internal error";
        case POLYGLOT_STATUS_IO_ERROR:
            return "I/O error";
        case POLYGLOT_STATUS_FORMAT_ERROR:
            return "format error";
        case POLYGLOT_STATUS_BUFFER_TOO_SMALL:
            return "buffer too small";
        default:
            return "unknown status";
    }
}

}  // namespace

// ---- capabilities -------------------------------------------------------------------------

std::vector<std::string> capability_names(std::uint64_t caps) {
    static constexpr std::pair<std::uint64_t, const char*> known[] = {
        {POLYGLOT_CAP_EMBED, "embed"},
        {POLYGLOT_CAP_TOKENIZE, "tokenize"},
        {POLYGLOT_CAP_SCORE, "score"},
        {POLYGLOT_CAP_GENERATE, "generate"},
    };
    std::vector<std::string> out;
    for (auto [bit, name] : known)
        if (caps & bit) out.emplace_back(name);
    for (unsigned b = 0; b < 64; ++b) {
        std::uint64_t bit = std::uint64_t{1} << b;
        bool is_known = std::any_of(std::begin(known), std::end(known),
                                    [&](const auto& k) { return k.first == bit; });
        if ((caps & bit) && !is_known) out.push_back("bit" + std::to_string(b));
    }
    return out;
}

std::uint64_t capability_bit(std::string_view name) noexcept {
    if (name == "embed") return POLYGLOT_CAP_EMBED;
    if (name == "tokenize") return POLYGLOT_CAP_TOKENIZE;
    if (name == "score") return POLYGLOT_CAP_SCORE;
    if (name == "generate") return POLYGLOT_CAP_GENERATE;
    return 0;
}

// ---- loaded_plugin ------------------------------------------------------------------------

loaded_plugin::loaded_plugin(private_tag, std::shared_ptr<void> library,
                             const polyglot_plugin_v1* table, fs::path file, std::int32_t score,
                             std::string unusable)
    : library_(std::move(library)),
      table_(table),
      file_(std::move(file)),
      name_(table->name),
      version_(table->version ? table->version : ""),
      description_(table->description ? table->description : ""),
      unusable_(std::move(unusable)),
      score_(score) {}

bool loaded_plugin::has(std::size_t offset) const noexcept {
    if (offset + sizeof(void*) > table_->struct_size) return false;
    void* p = nullptr;
    std::memcpy(&p, reinterpret_cast<const char*>(table_) + offset, sizeof p);
    return p != nullptr;
}

std::vector<device> loaded_plugin::devices() const {
    std::vector<device> out;
    if (!table_->device_count || !table_->device_info) {
        out.push_back(device{name_, description_, POLYGLOT_DEVICE_CPU, 0, 0});
        return out;
    }
    std::uint32_t n = table_->device_count();
    for (std::uint32_t i = 0; i < n; ++i) {
        polyglot_device_info info{};
        info.struct_size = sizeof info;
        if (table_->device_info(i, &info) != POLYGLOT_STATUS_OK) continue;
        info.name[sizeof info.name - 1] = '\0';
        info.description[sizeof info.description - 1] = '\0';
        out.push_back(
            device{info.name, info.description, info.type, info.memory_total, info.memory_free});
    }
    return out;
}

std::string loaded_plugin::self_test() const {
    if (!table_->get_proc_address) return {};
    void* f = table_->get_proc_address(POLYGLOT_SELF_TEST_PROC);
    if (!f) return {};
    const char* json = reinterpret_cast<polyglot_self_test_fn>(f)();
    return json ? std::string(json) : std::string();
}

model loaded_plugin::create(std::string_view config_json) const {
    std::string cfg(config_json);
    char err[1024] = {0};
    polyglot_model_t h = nullptr;
    polyglot_status st = table_->create(cfg.c_str(), &h, err, sizeof err);
    if (st != POLYGLOT_STATUS_OK || !h) {
        err[sizeof err - 1] = '\0';
        std::string msg = "backend '" + name_ + "': " + (err[0] ? err : status_name(st));
        if (st == POLYGLOT_STATUS_OK) {  // OK without a handle: a plugin bug
            st = POLYGLOT_STATUS_INTERNAL;
            msg = "backend '" + name_ + "': create returned OK but no model";
        }
        throw_status(st, msg);
    }
    return model(shared_from_this(), h);
}

// ---- text_batch -----------------------------------------------------------------------------

text_batch::text_batch(std::span<const std::string_view> texts) {
    std::size_t bytes = 0;
    for (auto t : texts) bytes += t.size();
    data_.reserve(bytes);
    offsets_.reserve(texts.size() + 1);
    for (auto t : texts) push_back(t);
}

void text_batch::push_back(std::string_view text) {
    data_.append(text);
    offsets_.push_back(data_.size());
}

void text_batch::clear() noexcept {
    data_.clear();
    offsets_.assign(1, 0);
}

// ---- model ----------------------------------------------------------------------------------

model::~model() {
    if (handle_ && plugin_) plugin_->table().destroy(handle_);
}

void model::fail(polyglot_status st, std::string_view what) const {
    const char* le = plugin_->table().last_error ? plugin_->table().last_error(handle_) : nullptr;
    std::string msg = "backend '" + plugin_->name() + "': " + std::string(what) + ": " +
                      (le && *le ? le : status_name(st));
    throw_status(st, msg);
}

bool model::supports(polyglot_op op) const noexcept {
    return handle_ && plugin_->table().supports(handle_, op) == 1;
}

std::string model::info_json() const {
    const auto& t = plugin_->table();
    if (!t.get_info) return "{}";
    std::size_t needed = 0;
    std::string buf(256, '\0');
    polyglot_status st = t.get_info(handle_, buf.data(), buf.size(), &needed);
    if (st == POLYGLOT_STATUS_BUFFER_TOO_SMALL && needed > buf.size()) {
        buf.assign(needed, '\0');
        st = t.get_info(handle_, buf.data(), buf.size(), &needed);
    }
    if (st != POLYGLOT_STATUS_OK) fail(st, "get_info");
    buf.resize(std::strlen(buf.c_str()));
    return buf;
}

std::uint32_t model::dim() const {
    const auto& t = plugin_->table();
    if (!t.get_dim) throw unsupported_error("backend '" + plugin_->name() + "': no get_dim");
    std::uint32_t d = 0;
    if (auto st = t.get_dim(handle_, &d); st != POLYGLOT_STATUS_OK) fail(st, "get_dim");
    return d;
}

void model::embed(const polyglot_text_batch& texts, float* out, std::uint64_t out_count) const {
    const auto& t = plugin_->table();
    if (!t.embed) throw unsupported_error("backend '" + plugin_->name() + "' cannot embed");
    if (auto st = t.embed(handle_, &texts, out, out_count); st != POLYGLOT_STATUS_OK)
        fail(st, "embed");
}

void model::embed(std::span<const std::string_view> texts, float* out) const {
    text_batch b(texts);
    embed(b.view(), out, static_cast<std::uint64_t>(texts.size()) * dim());
}

std::vector<std::vector<std::int32_t>> model::tokenize(std::span<const std::string_view> texts,
                                                       std::uint32_t flags) const {
    const auto& t = plugin_->table();
    const bool v11 = plugin_->has(offsetof(polyglot_plugin_v1, tokenize_texts));
    if (!t.tokenize && !v11)
        throw unsupported_error("backend '" + plugin_->name() + "' cannot tokenize");
    text_batch b(texts);
    auto view = b.view();
    auto tv = b.texts();
    std::size_t bytes = 0;
    for (auto s : texts) bytes += s.size();
    std::vector<std::int32_t> ids(bytes + 8 * texts.size() + 16);
    std::vector<std::uint64_t> offsets(texts.size() + 1);
    std::uint64_t needed = 0;
    auto call = [&] {
        return v11 ? t.tokenize_texts(handle_, &tv, flags, ids.data(), ids.size(), offsets.data(),
                                      offsets.size(), &needed)
                   : t.tokenize(handle_, &view, flags, ids.data(), ids.size(), offsets.data(),
                                &needed);
    };
    polyglot_status st = call();
    if (st == POLYGLOT_STATUS_BUFFER_TOO_SMALL && needed > ids.size()) {
        ids.resize(static_cast<std::size_t>(needed));
        st = call();
    }
    if (st != POLYGLOT_STATUS_OK) fail(st, "tokenize");
    std::vector<std::vector<std::int32_t>> out(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i)
        out[i].assign(ids.begin() + static_cast<std::ptrdiff_t>(offsets[i]),
                      ids.begin() + static_cast<std::ptrdiff_t>(offsets[i + 1]));
    return out;
}

namespace {

/// A polyglot_call_context bound to call_hooks, recording which items failed and why.
class hook_bridge {
  public:
    hook_bridge(const call_hooks* hooks, std::size_t n) : hooks_(hooks), errors_(n) {
        ctx_.struct_size = sizeof ctx_;
        ctx_.user = this;
        if (hooks_ && hooks_->progress) ctx_.progress = &on_progress;
        // Per-item failures are always taken when the caller asked for them; the bridge keeps
        // the messages so that results can carry them.
        if (hooks_ && hooks_->item_error) ctx_.item_error = &on_item_error;
        if (hooks_) ctx_.cancel = hooks_->cancel;
    }
    [[nodiscard]] const polyglot_call_context* ctx() const noexcept { return &ctx_; }
    [[nodiscard]] bool failed(std::size_t i) const noexcept { return errors_[i].first != 0; }
    [[nodiscard]] polyglot_status status(std::size_t i) const noexcept { return errors_[i].first; }
    [[nodiscard]] const std::string& message(std::size_t i) const noexcept {
        return errors_[i].second;
    }

  private:
    static void on_progress(void* u, std::uint64_t done, std::uint64_t total,
                            std::uint64_t tokens) {
        auto* self = static_cast<hook_bridge*>(u);
        try {
            self->hooks_->progress(done, total, tokens);
        } catch (...) {  // a callback must not unwind through the plugin
        }
    }
    static void on_item_error(void* u, std::uint64_t index, polyglot_status st, const char* msg) {
        auto* self = static_cast<hook_bridge*>(u);
        try {
            if (index < self->errors_.size())
                self->errors_[static_cast<std::size_t>(index)] = {st ? st : POLYGLOT_STATUS_INTERNAL,
                                                                   msg ? msg : ""};
            self->hooks_->item_error(index, st, msg ? msg : "");
        } catch (...) {
        }
    }
    const call_hooks* hooks_;
    polyglot_call_context ctx_{};
    std::vector<std::pair<polyglot_status, std::string>> errors_;
};

/// Flat id batch over a vector of sequences (the ABI layout), owning its arrays.
struct flat_ids {
    std::vector<std::int32_t> ids;
    std::vector<std::uint64_t> offsets{0};
    explicit flat_ids(std::span<const std::vector<std::int32_t>> seqs) {
        std::size_t total = 0;
        for (const auto& s : seqs) total += s.size();
        ids.reserve(total);
        offsets.reserve(seqs.size() + 1);
        for (const auto& s : seqs) {
            ids.insert(ids.end(), s.begin(), s.end());
            offsets.push_back(ids.size());
        }
    }
    [[nodiscard]] polyglot_id_batch view() const noexcept {
        return {sizeof(polyglot_id_batch), ids.data(), ids.size(), offsets.data(),
                offsets.size() - 1};
    }
};

}  // namespace

void model::score(std::span<const std::string_view> prompts,
                  std::span<const std::string_view> responses, std::span<lm_score> out,
                  const call_hooks* hooks) {
    const auto& t = plugin_->table();
    if (prompts.size() != responses.size() || prompts.size() != out.size())
        throw argument_error("score: prompts, responses and out differ in size");
    text_batch p(prompts), r(responses);
    std::vector<polyglot_score_result> res(prompts.size());
    hook_bridge bridge(hooks, prompts.size());
    if (plugin_->has(offsetof(polyglot_plugin_v1, score_texts))) {
        auto pv = p.texts(), rv = r.texts();
        if (auto st = t.score_texts(handle_, &pv, &rv, res.data(), res.size(), bridge.ctx());
            st != POLYGLOT_STATUS_OK)
            fail(st, "score");
    } else {
        if (!t.score) throw unsupported_error("backend '" + plugin_->name() + "' cannot score");
        auto pv = p.view(), rv = r.view();
        if (auto st = t.score(handle_, &pv, &rv, res.data()); st != POLYGLOT_STATUS_OK)
            fail(st, "score");
    }
    for (std::size_t i = 0; i < res.size(); ++i) {
        out[i] = lm_score{};
        out[i].sum_nll = res[i].sum_nll;
        out[i].n_scored = res[i].n_scored;
        out[i].prompt_tokens = res[i].prompt_tokens;
        out[i].response_tokens = res[i].response_tokens;
        out[i].truncated = res[i].truncated != 0;
        if (bridge.failed(i)) {
            out[i].failed = true;
            out[i].error = bridge.message(i);
        }
    }
}

void model::embed(std::span<const std::string_view> texts, float* out,
                  const call_hooks* hooks) const {
    const auto& t = plugin_->table();
    if (!plugin_->has(offsetof(polyglot_plugin_v1, embed_texts))) {
        embed(texts, out);
        return;
    }
    text_batch b(texts);
    auto tv = b.texts();
    const std::uint64_t d = dim();
    hook_bridge bridge(hooks, texts.size());
    if (auto st = t.embed_texts(handle_, &tv, out, texts.size() * d, bridge.ctx());
        st != POLYGLOT_STATUS_OK)
        fail(st, "embed");
    for (std::size_t i = 0; i < texts.size(); ++i)
        if (bridge.failed(i))
            std::fill_n(out + i * d, d, std::numeric_limits<float>::quiet_NaN());
}

void model::score_ids(std::span<const std::int32_t> ids, std::span<const std::uint64_t> offsets,
                      std::span<const std::uint64_t> score_from, std::span<float> logprobs,
                      std::span<std::uint8_t> greedy, const call_hooks* hooks) {
    const auto& t = plugin_->table();
    if (!plugin_->has(offsetof(polyglot_plugin_v1, score_ids)) ||
        !supports(POLYGLOT_OP_SCORE_IDS))
        throw unsupported_error("backend '" + plugin_->name() + "' cannot score token ids");
    if (offsets.empty() || score_from.size() + 1 != offsets.size())
        throw argument_error("score_ids: offsets must have one entry more than score_from");
    if (logprobs.size() < ids.size() || (!greedy.empty() && greedy.size() < ids.size()))
        throw argument_error("score_ids: output spans are smaller than the ids");
    const polyglot_id_batch seqs{sizeof(polyglot_id_batch), ids.data(), ids.size(),
                                 offsets.data(), score_from.size()};
    hook_bridge bridge(hooks, score_from.size());
    polyglot_score_ids_request rq{};
    rq.struct_size = sizeof rq;
    rq.seqs = &seqs;
    rq.score_from = score_from.data();
    rq.logprobs = logprobs.data();
    rq.greedy = greedy.empty() ? nullptr : greedy.data();
    rq.out_cap = ids.size();
    rq.ctx = bridge.ctx();
    if (auto st = t.score_ids(handle_, &rq); st != POLYGLOT_STATUS_OK) fail(st, "score_ids");
}

std::vector<std::string> model::detokenize(std::span<const std::vector<std::int32_t>> seqs,
                                           std::uint32_t flags) const {
    const auto& t = plugin_->table();
    if (!plugin_->has(offsetof(polyglot_plugin_v1, detokenize)) ||
        !supports(POLYGLOT_OP_DETOKENIZE))
        throw unsupported_error("backend '" + plugin_->name() + "' cannot detokenize");
    flat_ids flat(seqs);
    auto view = flat.view();
    std::string text(flat.ids.size() * 8 + 64, '\0');
    std::vector<std::uint64_t> offsets(seqs.size() + 1);
    std::uint64_t needed = 0;
    polyglot_status st = t.detokenize(handle_, &view, flags, text.data(), text.size(),
                                      offsets.data(), offsets.size(), &needed);
    if (st == POLYGLOT_STATUS_BUFFER_TOO_SMALL && needed > text.size()) {
        text.assign(static_cast<std::size_t>(needed), '\0');
        st = t.detokenize(handle_, &view, flags, text.data(), text.size(), offsets.data(),
                          offsets.size(), &needed);
    }
    if (st != POLYGLOT_STATUS_OK) fail(st, "detokenize");
    std::vector<std::string> out(seqs.size());
    for (std::size_t i = 0; i < seqs.size(); ++i)
        out[i].assign(text.data() + offsets[i], offsets[i + 1] - offsets[i]);
    return out;
}

void model::generate(prompt_kind kind, std::span<const std::string_view> prompts,
                     std::span<const std::vector<std::int32_t>> prompt_ids,
                     std::uint64_t first_index, const generate_params& params,
                     std::span<generation> out, const call_hooks* hooks) {
    generate_impl(kind, prompts, prompt_ids, first_index, params, out, hooks, 0);
}

void model::generate_impl(prompt_kind kind, std::span<const std::string_view> prompts,
                          std::span<const std::vector<std::int32_t>> prompt_ids,
                          std::uint64_t first_index, const generate_params& params,
                          std::span<generation> out, const call_hooks* hooks,
                          std::uint64_t text_cap) {
    const auto& t = plugin_->table();
    if (!t.generate || !supports(POLYGLOT_OP_GENERATE))
        throw unsupported_error("backend '" + plugin_->name() + "' cannot generate");
    const std::size_t n = kind == prompt_kind::ids ? prompt_ids.size() : prompts.size();
    if (out.size() != n) throw argument_error("generate: out and prompts differ in size");
    if (n == 0) return;
    text_batch tb(kind == prompt_kind::ids ? std::span<const std::string_view>() : prompts);
    flat_ids fi(kind == prompt_kind::ids ? prompt_ids
                                         : std::span<const std::vector<std::int32_t>>());
    const polyglot_texts tv = tb.texts();
    const polyglot_id_batch iv = fi.view();
    std::vector<std::string_view> stop_views(params.stop.begin(), params.stop.end());
    text_batch stop_batch(stop_views);
    const polyglot_texts sv = stop_batch.texts();

    polyglot_generate_request rq{};
    rq.struct_size = sizeof rq;
    rq.prompt_kind = static_cast<std::int32_t>(kind);
    rq.prompts = kind == prompt_kind::ids ? nullptr : &tv;
    rq.prompt_ids = kind == prompt_kind::ids ? &iv : nullptr;
    rq.flags = (params.add_special ? POLYGLOT_GENERATE_ADD_SPECIAL : 0u) |
               (params.parse_special ? POLYGLOT_GENERATE_PARSE_SPECIAL : 0u) |
               (params.logprobs ? POLYGLOT_GENERATE_LOGPROBS : 0u) |
               (params.ignore_eos ? POLYGLOT_GENERATE_IGNORE_EOS : 0u) |
               (params.keep_special ? POLYGLOT_GENERATE_KEEP_SPECIAL : 0u) |
               (params.add_generation_prompt ? POLYGLOT_GENERATE_ADD_GENERATION_PROMPT : 0u);
    rq.max_new_tokens = params.max_new_tokens;
    set_sampling(rq, params);
    rq.seed = params.seed;
    rq.first_index = first_index;
    rq.stop = params.stop.empty() ? nullptr : &sv;
    rq.stop_ids = params.stop_ids.empty() ? nullptr : params.stop_ids.data();
    rq.n_stop_ids = params.stop_ids.size();
    rq.json_schema = params.json_schema.empty() ? nullptr : params.json_schema.c_str();
    rq.extra_json = params.extra_json.empty() ? nullptr : params.extra_json.c_str();
    hook_bridge bridge(hooks, n);
    rq.ctx = bridge.ctx();

    // Caller-allocated outputs: ids up to max_new_tokens; text sized from the longest token the
    // model reports (info_json "max_token_bytes"), else a generous guess per token.
    if (text_cap == 0) {
        std::uint64_t per_token = 32;
        const std::string info = info_json();
        const auto at = info.find("\"max_token_bytes\":");
        if (at != std::string::npos) {
            const auto v = std::strtoull(info.c_str() + at + 18, nullptr, 10);
            if (v > 0 && v < 4096) per_token = v;
        }
        text_cap = std::uint64_t(params.max_new_tokens) * per_token + 64;
    }
    std::vector<std::vector<char>> text(n);
    std::vector<std::vector<std::int32_t>> ids(n);
    std::vector<std::vector<float>> lps(n);
    std::vector<polyglot_generation> items(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto& it = items[i];
        it.struct_size = sizeof it;
        text[i].resize(static_cast<std::size_t>(text_cap));
        ids[i].resize(params.max_new_tokens);
        it.text = text[i].data();
        it.text_cap = text_cap;
        it.ids = ids[i].data();
        it.ids_cap = params.max_new_tokens;
        if (params.logprobs) {
            lps[i].resize(params.max_new_tokens);
            it.logprobs = lps[i].data();
        }
    }
    polyglot_generate_result res{sizeof(polyglot_generate_result), items.data(), n};
    if (auto st = t.generate(handle_, &rq, &res);
        st != POLYGLOT_STATUS_OK && st != POLYGLOT_STATUS_CANCELLED)
        fail(st, "generate");
    for (std::size_t i = 0; i < n; ++i) {
        const auto& it = items[i];
        generation& g = out[i];
        if (it.status == POLYGLOT_STATUS_BUFFER_TOO_SMALL && it.text_len > it.text_cap &&
            text_cap < it.text_len) {
            // The text did not fit: generate this item again with room for it. Sampling is
            // seeded per sequence from (seed, first_index + i), so the rerun is the same
            // sequence.
            call_hooks shifted;
            if (hooks) {
                shifted.progress = {};
                shifted.cancel = hooks->cancel;
                if (hooks->item_error)
                    shifted.item_error = [&, i](std::uint64_t, polyglot_status st,
                                                std::string_view m) {
                        hooks->item_error(i, st, m);
                    };
            }
            generate_impl(kind,
                          kind == prompt_kind::ids ? std::span<const std::string_view>()
                                                   : prompts.subspan(i, 1),
                          kind == prompt_kind::ids ? prompt_ids.subspan(i, 1)
                                                   : std::span<const std::vector<std::int32_t>>(),
                          first_index + i, params, out.subspan(i, 1), hooks ? &shifted : nullptr,
                          it.text_len);
            continue;
        }
        g.status = it.status;
        g.error = bridge.failed(i) ? bridge.message(i) : std::string();
        if (g.status == POLYGLOT_STATUS_OK && bridge.failed(i)) g.status = bridge.status(i);
        if (g.status != POLYGLOT_STATUS_OK && g.error.empty()) g.error = status_name(g.status);
        const std::size_t len = static_cast<std::size_t>(std::min(it.text_len, it.text_cap));
        g.text.assign(text[i].data(), len);
        const std::size_t k = std::min<std::size_t>(it.n_ids, it.ids_cap);
        g.ids.assign(ids[i].begin(), ids[i].begin() + static_cast<std::ptrdiff_t>(k));
        if (params.logprobs)
            g.logprobs.assign(lps[i].begin(), lps[i].begin() + static_cast<std::ptrdiff_t>(k));
        else
            g.logprobs.clear();
        g.finish_reason = it.finish_reason;
        g.prompt_tokens = it.prompt_tokens;
    }
}

// ---- discovery ------------------------------------------------------------------------------

std::vector<fs::path> search_path(const search_options& opts) {
    std::vector<fs::path> dirs;
    std::set<std::string> seen;
    auto add = [&](const fs::path& d) {
        if (d.empty()) return;
        std::error_code ec;
        fs::path n = fs::weakly_canonical(d, ec);
        if (ec) n = d.lexically_normal();
        if (seen.insert(n.string()).second) dirs.push_back(n);
    };
    for (const auto& d : opts.plugin_dirs) add(d);
    if (opts.use_env) {
        if (const char* env = std::getenv("POLYGLOT_PLUGIN_PATH")) {
            std::stringstream ss(env);
            std::string item;
            while (std::getline(ss, item, ':'))
                if (!item.empty()) add(item);
        }
    }
    if (opts.use_install_dir) {
        // Relative to libpolyglot itself, so a relocated install (cmake --install --prefix)
        // still finds its plugins; then the directory configured at build time.
        boost::dll::fs::error_code ec;
        fs::path self = boost::dll::this_line_location(ec);
        if (!ec && !self.empty()) add(self.parent_path() / "polyglot" / "plugins");
        add(POLYGLOT_PLUGIN_INSTALL_DIR);
    }
    if (opts.use_exe_dir) {
        boost::dll::fs::error_code ec;
        fs::path exe = boost::dll::program_location(ec);
        if (!ec && !exe.empty()) {
            add(exe.parent_path());
            add(exe.parent_path().parent_path() / "plugins");
        }
    }
    return dirs;
}

std::vector<fs::path> find_plugin_files(const search_options& opts, std::string_view name) {
    std::vector<fs::path> out;
    std::set<std::string> seen;
    for (const auto& dir : search_path(opts)) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;
        std::vector<fs::path> here;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code fec;
            if (!it->is_regular_file(fec) && !it->is_symlink(fec)) continue;
            std::string n = name_from_file(it->path());
            if (n.empty() || (!name.empty() && n != name)) continue;
            here.push_back(it->path());
        }
        std::sort(here.begin(), here.end());
        for (auto& f : here)
            if (seen.insert(canonical_key(f)).second) out.push_back(f);
    }
    return out;
}

plugin_ptr load_plugin(const fs::path& file, std::error_code& ec, std::string& message) noexcept {
    ec.clear();
    message.clear();
    try {
        std::error_code fec;
        if (!fs::exists(file, fec)) {
            ec = make_error_code(errc::plugin);
            message = "plugin file " + quoted(file) + " does not exist";
            return nullptr;
        }
        if (fs::is_directory(file, fec)) {
            ec = make_error_code(errc::plugin);
            message = "plugin " + quoted(file) + " is a directory, not a plugin file";
            return nullptr;
        }
        registry_state& st = state();
        std::lock_guard lock(st.mutex);
        std::string key = canonical_key(file);
        auto it = st.by_path.find(key);
        if (it == st.by_path.end()) it = st.by_path.emplace(key, load_locked(file)).first;
        if (!it->second.plugin) {
            ec = make_error_code(errc::plugin);
            message = it->second.error;
        }
        return it->second.plugin;
    } catch (const std::exception& e) {
        ec = make_error_code(errc::plugin);
        message = "plugin " + quoted(file) + ": " + e.what();
    } catch (...) {
        ec = make_error_code(errc::plugin);
        message = "plugin " + quoted(file) + ": unknown error while loading";
    }
    return nullptr;
}

plugin_ptr load_plugin(const fs::path& file) {
    std::error_code ec;
    std::string msg;
    auto p = load_plugin(file, ec, msg);
    if (!p) throw plugin_error(msg);
    return p;
}

std::vector<scan_entry> scan(const search_options& opts) {
    std::vector<scan_entry> out;
    for (const auto& f : find_plugin_files(opts)) {
        std::error_code ec;
        scan_entry e{f, nullptr, {}};
        e.plugin = load_plugin(f, ec, e.error);
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<plugin_ptr> select_backends(std::string_view backend, std::uint64_t required_caps,
                                        const search_options& opts) {
    const std::string want = caps_string(required_caps);
    auto check_caps = [&](const plugin_ptr& p) {
        if ((p->caps() & required_caps) != required_caps)
            throw plugin_error("backend '" + p->name() + "' (" + p->file().string() +
                               ") cannot do " + want + ": its capabilities are " +
                               caps_string(p->caps()));
    };
    auto by_score = [](std::vector<plugin_ptr>& v) {
        std::stable_sort(v.begin(), v.end(), [](const plugin_ptr& a, const plugin_ptr& b) {
            return a->score() > b->score();
        });
    };

    if (backend.empty()) backend = "auto";
    if (looks_like_path(backend)) {
        plugin_ptr p = load_plugin(fs::path(std::string(backend)));
        if (!p->usable())
            throw plugin_error("backend " + quoted(p->file()) + " ('" + p->name() +
                               "') is unusable here: " + p->unusable_reason());
        check_caps(p);
        return {p};
    }

    if (backend == "auto") {
        std::vector<plugin_ptr> ok;
        std::string notes;
        for (auto& e : scan(opts)) {
            if (!e.plugin) {
                notes += "\n  " + e.error;
            } else if (!e.plugin->usable()) {
                notes += "\n  " + e.plugin->name() + " (" + e.file.string() +
                         "): unusable here: " + e.plugin->unusable_reason();
            } else if ((e.plugin->caps() & required_caps) != required_caps) {
                notes +=
                    "\n  " + e.plugin->name() + " (" + e.file.string() + "): cannot do " + want;
            } else if (std::find(opts.auto_skip.begin(), opts.auto_skip.end(),
                                 e.plugin->name()) != opts.auto_skip.end()) {
                continue;  // not for this kind of model spec
            } else {
                ok.push_back(e.plugin);
            }
        }
        if (ok.empty())
            throw plugin_error("--backend auto: no usable plugin that can do " + want +
                               " was found; searched: " + join_paths(search_path(opts)) +
                               " (add one with --plugin-dir or POLYGLOT_PLUGIN_PATH)" + notes);
        by_score(ok);
        return ok;
    }

    std::string name(backend);
    if (!valid_name(name))
        throw argument_error("--backend '" + name +
                             "': expected cpu, cuda, metal, auto, a plugin name or a path to a "
                             "plugin file");
    auto files = find_plugin_files(opts, name);
    if (files.empty())
        throw plugin_error("backend '" + name + "': no plugin found (looked for libpolyglot-" +
                           name + ".so in: " + join_paths(search_path(opts)) +
                           "); add its directory with --plugin-dir or POLYGLOT_PLUGIN_PATH");
    std::vector<plugin_ptr> ok;
    std::string first_problem;
    for (const auto& f : files) {
        std::error_code ec;
        std::string msg;
        plugin_ptr p = load_plugin(f, ec, msg);
        if (!p) {
            if (first_problem.empty()) first_problem = msg;
        } else if (p->name() != name) {
            if (first_problem.empty())
                first_problem =
                    "plugin " + quoted(f) + " calls itself '" + p->name() + "', not '" + name + "'";
        } else if (!p->usable()) {
            if (first_problem.empty())
                first_problem = "backend '" + name + "' (" + f.string() +
                                ") is unusable here: " + p->unusable_reason();
        } else {
            ok.push_back(p);
        }
    }
    if (ok.empty()) throw plugin_error(first_problem);
    by_score(ok);
    check_caps(ok.front());
    return ok;
}

model open_model(std::string_view backend, std::uint64_t required_caps,
                 std::string_view config_json, const search_options& opts) {
    auto candidates = select_backends(backend, required_caps, opts);
    const bool is_auto = backend.empty() || backend == "auto";
    if (!is_auto) return candidates.front()->create(config_json);
    // auto: the best plugin that opens the model. A plugin may decline a model it does not
    // handle (a GPU plugin given a fastText file): try the next one. When every plugin fails,
    // the error of the last (lowest-preference, usually the cpu reference) is raised, with
    // what the others said.
    std::string others;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        try {
            return candidates[i]->create(config_json);
        } catch (const error& e) {
            if (i + 1 < candidates.size()) {
                others += std::string("\n  (also tried) ") + e.what();
                continue;
            }
            if (others.empty()) throw;
            rethrow_as(e.code(), std::string(e.what()) + others);
        }
    }
    throw plugin_error("no backend could open the model");  // unreachable: candidates non-empty
}

}  // namespace plugin
POLYGLOT_END_NAMESPACE
