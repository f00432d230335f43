// SPDX-License-Identifier: Apache-2.0
/// @file
/// Host side of the plugin ABI: discovery, loading (Boost.DLL, never unloaded), backend
/// selection, and RAII C++ wrappers over the C handles of include/polyglot/plugin/abi.h.
///
/// Search order (first match wins for a named backend):
///   1. `search_options::plugin_dirs` (the CLI's --plugin-dir),
///   2. `$POLYGLOT_PLUGIN_PATH` (':'-separated),
///   3. the install directory: `<dir of libpolyglot>/polyglot/plugins` (relocatable) and the
///      configured POLYGLOT_PLUGIN_DIR,
///   4. the executable's directory, and `<exe dir>/../plugins` (build trees).
/// Plugin files are named `[lib]polyglot-<name>[-<variant>].{so,dylib,dll}`.
///
/// Thread-safety: loading is serialised internally (dlopen from one thread at a time). A
/// loaded_plugin is immutable and shareable. A `model` is not thread-safe except where noted.
#pragma once

#include <polyglot/plugin/abi.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <polyglot/core/record.hpp>
#include <polyglot/plugin/requests.hpp>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace plugin {

/// A device a plugin reports (polyglot_device_info in C++).
struct device {
    std::string name;
    std::string description;
    int type = POLYGLOT_DEVICE_CPU;
    std::uint64_t memory_total = 0;  ///< bytes, 0 = unknown
    std::uint64_t memory_free = 0;   ///< bytes, 0 = unknown
};

/// Names of the POLYGLOT_CAP_* bits set in @p caps ("embed", "tokenize", "score", "generate",
/// and "bit<N>" for bits this host does not know).
std::vector<std::string> capability_names(std::uint64_t caps);

/// Parses "embed" / "tokenize" / "score" / "generate" into its POLYGLOT_CAP_* bit (0 if
/// unknown).
std::uint64_t capability_bit(std::string_view name) noexcept;

class model;

/// A plugin library that loaded and whose table was accepted. Immutable; the library stays
/// loaded for the life of the process (plugins are never unloaded).
class loaded_plugin : public std::enable_shared_from_this<loaded_plugin> {
  public:
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const std::string& version() const noexcept { return version_; }
    [[nodiscard]] const std::string& description() const noexcept { return description_; }
    [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
    [[nodiscard]] std::uint32_t abi_version() const noexcept { return table_->abi_version; }
    [[nodiscard]] std::uint64_t caps() const noexcept { return table_->caps; }
    /// The plugin's polyglot_plugin_score() (1 when it does not export one); 0 = unusable.
    [[nodiscard]] std::int32_t score() const noexcept { return score_; }
    [[nodiscard]] bool usable() const noexcept { return score_ > 0; }
    /// Why the plugin is unusable here (its own words when it gives them), "" when usable.
    [[nodiscard]] const std::string& unusable_reason() const noexcept { return unusable_; }
    /// The raw C table. Members beyond table().struct_size are absent: use has().
    [[nodiscard]] const polyglot_plugin_v1& table() const noexcept { return *table_; }
    /// True when the table member at byte offset @p offset (offsetof) exists and is non-null.
    [[nodiscard]] bool has(std::size_t offset) const noexcept;
    /// Devices the plugin reports (one unnamed device when it has no device_count).
    [[nodiscard]] std::vector<device> devices() const;
    /// The plugin's self-test verdict (a JSON object, abi.h POLYGLOT_SELF_TEST_PROC); "" when
    /// the plugin runs no self-test.
    [[nodiscard]] std::string self_test() const;

    /// Creates a model from a config JSON object (see abi.h `create`). Throws the polyglot
    /// error matching the plugin's status (io_error, format_error, argument_error,
    /// unsupported_error, else plugin_error), naming the plugin.
    [[nodiscard]] model create(std::string_view config_json) const;

    /// Use load_plugin(); public only for std::make_shared.
    struct private_tag {};
    loaded_plugin(private_tag, std::shared_ptr<void> library, const polyglot_plugin_v1* table,
                  std::filesystem::path file, std::int32_t score, std::string unusable);

  private:
    std::shared_ptr<void> library_;  // the boost::dll::shared_library (never released)
    const polyglot_plugin_v1* table_;
    std::filesystem::path file_;
    std::string name_, version_, description_, unusable_;
    std::int32_t score_;
};

using plugin_ptr = std::shared_ptr<const loaded_plugin>;

/// A batch of texts in the ABI's layout (one buffer + n + 1 offsets), owning its bytes.
class text_batch {
  public:
    text_batch() = default;
    explicit text_batch(std::span<const std::string_view> texts);
    void push_back(std::string_view text);
    void clear() noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return offsets_.size() - 1; }
    /// The C view; valid until this batch is modified or destroyed.
    [[nodiscard]] polyglot_text_batch view() const noexcept {
        return {data_.data(), offsets_.data(), static_cast<std::uint64_t>(size())};
    }
    /// The bounds-checkable C view (ABI 1.1); valid as view().
    [[nodiscard]] polyglot_texts texts() const noexcept {
        return {sizeof(polyglot_texts), data_.data(), static_cast<std::uint64_t>(data_.size()),
                offsets_.data(), static_cast<std::uint64_t>(size())};
    }

  private:
    std::string data_;
    std::vector<std::uint64_t> offsets_{0};
};

/// A model created by a plugin: RAII over polyglot_model_t. Holds a shared_ptr to its plugin,
/// so the code that destroys it is always loaded. Move-only.
class model {
  public:
    model() = default;
    model(model&& o) noexcept
        : plugin_(std::move(o.plugin_)), handle_(std::exchange(o.handle_, nullptr)) {}
    model& operator=(model&& o) noexcept {
        model tmp(std::move(o));
        std::swap(plugin_, tmp.plugin_);
        std::swap(handle_, tmp.handle_);
        return *this;
    }
    model(const model&) = delete;
    model& operator=(const model&) = delete;
    /// Destroys the handle through the plugin that made it.
    ~model();

    [[nodiscard]] explicit operator bool() const noexcept { return handle_ != nullptr; }
    [[nodiscard]] const loaded_plugin& plugin() const noexcept { return *plugin_; }
    [[nodiscard]] const plugin_ptr& shared_plugin() const noexcept { return plugin_; }
    [[nodiscard]] polyglot_model_t handle() const noexcept { return handle_; }

    /// Whether the model can do @p op (POLYGLOT_OP_*).
    [[nodiscard]] bool supports(polyglot_op op) const noexcept;
    /// The model's JSON self-description ("{}" when the plugin gives none).
    [[nodiscard]] std::string info_json() const;
    /// EMBED dimension.
    [[nodiscard]] std::uint32_t dim() const;
    /// Embeds @p texts into @p out (texts.size() * dim() floats, row-major, caller-owned).
    /// Thread-safe (the ABI allows concurrent embed calls on one model).
    void embed(std::span<const std::string_view> texts, float* out) const;
    void embed(const polyglot_text_batch& texts, float* out, std::uint64_t out_count) const;
    /// Tokenizes each text; result[i] are the ids of texts[i].
    [[nodiscard]] std::vector<std::vector<std::int32_t>> tokenize(
        std::span<const std::string_view> texts, std::uint32_t flags = 0) const;
    /// Scores responses[i] given prompts[i] into out[i] (all the same size). With
    /// hooks->item_error set, failed items are reported there and marked `failed` in out.
    void score(std::span<const std::string_view> prompts,
               std::span<const std::string_view> responses, std::span<lm_score> out,
               const call_hooks* hooks = nullptr);

    // ---- ABI 1.1 (each throws unsupported_error when the plugin lacks the member) ----------
    /// Embeds with per-call hooks (failed rows are NaN when hooks->item_error is set).
    void embed(std::span<const std::string_view> texts, float* out, const call_hooks* hooks) const;
    /// Log-probs of caller-given token ids: for sequence i (ids[offsets[i], offsets[i+1])) and
    /// positions p >= max(score_from[i], 1), logprobs[offsets[i] + p] (NaN elsewhere); greedy
    /// (optional, same layout) = 1 where the id is the argmax. Failed items stay NaN.
    void score_ids(std::span<const std::int32_t> ids, std::span<const std::uint64_t> offsets,
                   std::span<const std::uint64_t> score_from, std::span<float> logprobs,
                   std::span<std::uint8_t> greedy, const call_hooks* hooks = nullptr);
    /// The text of each id sequence (flags: POLYGLOT_DETOKENIZE_*).
    [[nodiscard]] std::vector<std::string> detokenize(
        std::span<const std::vector<std::int32_t>> seqs, std::uint32_t flags = 0) const;
    /// Generates one continuation per prompt into out[i] (prompts.size() == out.size()): text
    /// or message prompts in @p prompts (kind text / messages) or id prompts in @p prompt_ids
    /// (kind ids). @p first_index: the job-wide index of prompt 0 (seeds per sequence). Per-item
    /// failures land in out[i].status / error; a failure of the whole call throws.
    void generate(prompt_kind kind, std::span<const std::string_view> prompts,
                  std::span<const std::vector<std::int32_t>> prompt_ids, std::uint64_t first_index,
                  const generate_params& params, std::span<generation> out,
                  const call_hooks* hooks = nullptr);

  private:
    friend class loaded_plugin;
    model(plugin_ptr p, polyglot_model_t h) noexcept : plugin_(std::move(p)), handle_(h) {}
    [[noreturn]] void fail(polyglot_status st, std::string_view what) const;
    void generate_impl(prompt_kind kind, std::span<const std::string_view> prompts,
                       std::span<const std::vector<std::int32_t>> prompt_ids,
                       std::uint64_t first_index, const generate_params& params,
                       std::span<generation> out, const call_hooks* hooks,
                       std::uint64_t text_cap);

    plugin_ptr plugin_;
    polyglot_model_t handle_ = nullptr;
};

/// Where to look for plugins.
struct search_options {
    std::vector<std::filesystem::path> plugin_dirs;  ///< searched first (--plugin-dir)
    bool use_env = true;                             ///< $POLYGLOT_PLUGIN_PATH
    bool use_install_dir = true;                     ///< the install directory
    bool use_exe_dir = true;                         ///< next to the executable
    /// Plugins `--backend auto` never picks on its own: the remote backend serves URL specs
    /// only, and the services select it by name for those (a local path never selects it).
    std::vector<std::string> auto_skip = {"remote"};
};

/// The directories searched, in order, deduplicated; non-existent ones are kept (so messages
/// can list them).
std::vector<std::filesystem::path> search_path(const search_options& opts);

/// Plugin files found on the search path, in search order, each file once. When @p name is
/// non-empty, only files named `[lib]polyglot-<name>[-<variant>].<ext>`.
std::vector<std::filesystem::path> find_plugin_files(const search_options& opts,
                                                     std::string_view name = {});

/// Loads the plugin at @p file (or returns the already-loaded one). Throws plugin_error with
/// one clear message: missing file, not a shared library (the loader's reason), not a polyglot
/// plugin (no entry point), entry point returned NULL, ABI version mismatch, malformed table.
plugin_ptr load_plugin(const std::filesystem::path& file);
/// As above without throwing: on failure returns null, sets @p ec to errc::plugin and
/// @p message to the reason.
plugin_ptr load_plugin(const std::filesystem::path& file, std::error_code& ec,
                       std::string& message) noexcept;

/// One file's outcome in a scan (for `polyglot backends`).
struct scan_entry {
    std::filesystem::path file;
    plugin_ptr plugin;  ///< null when the file failed to load
    std::string error;  ///< why it failed to load, "" when it loaded
};

/// Loads every plugin file on the search path; never throws for a bad plugin.
std::vector<scan_entry> scan(const search_options& opts);

/// Selects the plugins able to serve @p backend, best first:
///  - "auto": every usable plugin whose caps include @p required_caps, by score (ties: search
///    order), except those named in search_options::auto_skip;
///  - a name ("cpu", "cuda", "metal", ...): the usable plugins with that name, by score;
///  - a path (contains '/' or ends in .so/.dylib/.dll): that file.
/// Throws plugin_error saying what was searched when nothing fits (a named plugin that is
/// unusable here says why; one that failed to load gives the load error).
std::vector<plugin_ptr> select_backends(std::string_view backend, std::uint64_t required_caps,
                                        const search_options& opts);

/// Creates a model on the best plugin for @p backend. Named or path backends: the best
/// candidate's create(), its error as is. "auto": tries select_backends() in order and moves on
/// when a plugin cannot open the model (a GPU plugin given a fastText file); when all fail,
/// raises the last one's error (same class) with what the others said appended.
model open_model(std::string_view backend, std::uint64_t required_caps,
                 std::string_view config_json, const search_options& opts);

}  // namespace plugin
POLYGLOT_END_NAMESPACE
