// SPDX-License-Identifier: Apache-2.0
// open_embedder / open_scorer on top of the plugin host: the model runs on whichever plugin
// --backend selects, and the rest of polyglot only sees embedder / scorer.
#include <optional>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <polyglot/plugin/services.hpp>
#include <polyglot/text/chat_template.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace {

std::string make_config(const std::string& model_path, std::string_view pooling,
                        const backend_options& opts) {
    io::json_writer w;
    w.begin_object();
    w.kv("model", model_path);
    if (!pooling.empty()) w.kv("pooling", pooling);
    w.kv("threads", static_cast<std::uint64_t>(opts.threads));
    w.kv("max_tokens", static_cast<std::uint64_t>(opts.max_tokens));
    w.kv("batch_tokens", static_cast<std::uint64_t>(opts.batch_tokens));
    if (!opts.dtype.empty()) w.kv("dtype", opts.dtype);
    w.kv("parse_special", opts.parse_special);
    if (!opts.chat_template.empty()) w.kv("chat_template", opts.chat_template);
    w.kv("server_kind", opts.server_kind);
    w.kv("api_key_env", opts.api_key_env);  // the variable's name only, never its value
    w.kv("concurrency", static_cast<std::uint64_t>(opts.concurrency));
    w.kv("max_retries", static_cast<std::uint64_t>(opts.max_retries));
    w.kv("request_timeout", opts.request_timeout);
    w.kv("no_cache", opts.no_cache);
    if (!opts.tokenizer.empty()) w.kv("tokenizer", opts.tokenizer);
    // Where the remote backend journals completed requests (resume after a crash).
    w.kv("journal_dir", (data_dir() / "remote").string());
    if (opts.device >= 0) w.kv("device", static_cast<std::uint64_t>(opts.device));
    w.end_object();
    return w.take();
}

/// A URL spec selects the remote backend under --backend auto; a local path never does.
plugin::model open_for(std::string_view spec, std::string_view pooling, std::uint64_t caps,
                       const backend_options& opts) {
    plugin::search_options s;
    s.plugin_dirs = opts.plugin_dirs;
    std::string backend = opts.backend;
    const bool url = is_url_spec(spec);
    if (url && (backend.empty() || backend == "auto")) backend = "remote";
    return plugin::open_model(backend, caps, make_config(std::string(spec), pooling, opts), s);
}

/// Field @p dotted of the model's info JSON when it is a string, else "".
std::string info_string(const plugin::model& m, std::string_view dotted) {
    try {
        const auto v = analysis::parse_json(m.info_json(), "model info");
        const auto* f = v.find_path(dotted);
        return f && f->is_string() ? f->as_string() : std::string();
    } catch (const error&) {
        return {};
    }
}

/// The identity of a model for report metadata: the plugin's own "id" for remote models (the
/// server's model, resolved), "hf:PATH" otherwise.
std::string model_id(const plugin::model& m, std::string_view spec, std::string fallback) {
    if (!is_url_spec(spec)) return fallback;
    std::string id = info_string(m, "id");
    return id.empty() ? "remote:" + display_url(split_url_spec(spec).url) : id;
}

/// "backend 'x' cannot do OP with this model", with the plugin's reason when it gives one.
[[noreturn]] void cannot(const plugin::model& m, std::string_view what, std::string_view spec,
                         std::string_view op) {
    std::string msg = std::string(what) + " '" + std::string(spec) + "': backend '" +
                      m.plugin().name() + "' cannot " + std::string(op) + " with this model";
    if (auto why = info_string(m, "limits." + std::string(op)); !why.empty()) msg += ": " + why;
    throw unsupported_error(msg);
}

/// The identity of a model from its info JSON: "device" (or a remote "server"), else the
/// plugin's first device; "compute" (or "dtype"); "device_name"; "self_test".
backend_identity identity_from(std::string_view role, std::string model, std::string backend,
                               std::string version, const std::string& info_json,
                               const plugin::loaded_plugin* plugin) {
    backend_identity b;
    b.role = std::string(role);
    b.model = std::move(model);
    b.backend = std::move(backend);
    b.plugin_version = std::move(version);
    try {
        const auto v = analysis::parse_json(info_json, "model info");
        auto str = [&](std::string_view k) {
            const auto* f = v.find_path(k);
            return f && f->is_string() ? f->as_string() : std::string();
        };
        b.device = str("device");
        if (b.device.empty()) b.device = str("server");
        b.device_name = str("device_name");
        b.dtype = str("compute");
        if (b.dtype.empty()) b.dtype = str("dtype");
        b.self_test = str("self_test");
    } catch (const error&) {
        // No (valid) info: what the plugin says about its devices is all there is.
    }
    if (b.device.empty() && plugin) {
        const auto devs = plugin->devices();
        if (!devs.empty()) b.device = devs.front().name;
    }
    return b;
}

class plugin_embedder final : public embedder {
  public:
    plugin_embedder(plugin::model m, std::string id) : model_(std::move(m)), id_(std::move(id)) {
        dim_ = model_.dim();
    }
    [[nodiscard]] std::size_t dim() const override { return dim_; }
    [[nodiscard]] std::string id() const override { return id_; }
    [[nodiscard]] std::string backend() const override { return model_.plugin().name(); }
    [[nodiscard]] std::string info_json() const override { return model_.info_json(); }
    [[nodiscard]] backend_identity identity(std::string_view role) const override {
        return identity_from(role, id(), backend(), model_.plugin().version(), info_json(),
                             &model_.plugin());
    }
    void embed(std::span<const std::string_view> texts, float* out,
               const call_hooks* hooks) override {
        if (hooks)
            model_.embed(texts, out, hooks);
        else
            model_.embed(texts, out);
    }

  private:
    plugin::model model_;
    std::string id_;
    std::size_t dim_ = 0;
};

class plugin_scorer final : public scorer {
  public:
    plugin_scorer(plugin::model m, std::string id) : model_(std::move(m)), id_(std::move(id)) {}
    [[nodiscard]] std::string id() const override { return id_; }
    [[nodiscard]] std::string backend() const override { return model_.plugin().name(); }
    [[nodiscard]] std::string info_json() const override { return model_.info_json(); }
    [[nodiscard]] backend_identity identity(std::string_view role) const override {
        return identity_from(role, id(), backend(), model_.plugin().version(), info_json(),
                             &model_.plugin());
    }
    void score(std::span<const std::string_view> prompts,
               std::span<const std::string_view> responses, std::span<lm_score> out,
               const call_hooks* hooks) override {
        model_.score(prompts, responses, out, hooks);
    }
    std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view> texts,
                                                    bool add_special) override {
        return model_.tokenize(texts, add_special ? POLYGLOT_TOKENIZE_ADD_SPECIAL : 0u);
    }
    void score_ids(std::span<const std::vector<std::int32_t>> seqs,
                   std::span<const std::size_t> score_from,
                   std::vector<std::vector<float>>& logprobs,
                   std::vector<std::vector<std::uint8_t>>* greedy,
                   const call_hooks* hooks) override {
        if (seqs.size() != score_from.size())
            throw argument_error("score_ids: seqs and score_from differ in size");
        std::vector<std::int32_t> ids;
        std::vector<std::uint64_t> offsets{0}, from(score_from.begin(), score_from.end());
        for (const auto& s : seqs) {
            ids.insert(ids.end(), s.begin(), s.end());
            offsets.push_back(ids.size());
        }
        std::vector<float> lp(ids.size());
        std::vector<std::uint8_t> g(greedy ? ids.size() : 0);
        model_.score_ids(ids, offsets, from, lp, g, hooks);
        logprobs.resize(seqs.size());
        if (greedy) greedy->resize(seqs.size());
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            const auto b = static_cast<std::ptrdiff_t>(offsets[i]),
                       e = static_cast<std::ptrdiff_t>(offsets[i + 1]);
            logprobs[i].assign(lp.begin() + b, lp.begin() + e);
            if (greedy) (*greedy)[i].assign(g.begin() + b, g.begin() + e);
        }
    }

  private:
    plugin::model model_;
    std::string id_;
};

/// Where a generator's chat template comes from: --tokenizer DIR when given (a remote model),
/// else the model directory.
std::filesystem::path template_dir(const std::string& path, const backend_options& opts) {
    return std::filesystem::path(opts.tokenizer.empty() ? path : opts.tokenizer);
}

/// GENERATE over a plugin model. Message prompts go to the plugin as messages when it renders
/// chat itself (POLYGLOT_OP_CHAT: a serving engine); for native backends they are rendered here
/// with the model's chat template (text::chat_template, or --chat-template FILE) and sent as
/// text, special tokens parsed and no BOS added again (the template writes it). A message list
/// the template cannot render fails its item only.
class plugin_generator final : public generator {
  public:
    plugin_generator(std::shared_ptr<plugin::model> m, std::string id,
                     std::filesystem::path template_dir, std::filesystem::path template_file)
        : model_(std::move(m)),
          id_(std::move(id)),
          template_dir_(std::move(template_dir)),
          template_file_(std::move(template_file)) {}
    [[nodiscard]] std::string id() const override { return id_; }
    [[nodiscard]] std::string backend() const override { return model_->plugin().name(); }
    [[nodiscard]] std::string info_json() const override { return model_->info_json(); }
    [[nodiscard]] backend_identity identity(std::string_view role) const override {
        return identity_from(role, id(), backend(), model_->plugin().version(), info_json(),
                             &model_->plugin());
    }
    void generate(prompt_kind kind, std::span<const std::string_view> prompts,
                  std::span<const std::vector<std::int32_t>> prompt_ids, std::uint64_t first_index,
                  const generate_params& params, std::span<generation> out,
                  const call_hooks* hooks) override {
        if (kind != prompt_kind::messages || model_->supports(POLYGLOT_OP_CHAT)) {
            model_->generate(kind, prompts, prompt_ids, first_index, params, out, hooks);
            return;
        }
        if (!tmpl_) tmpl_ = text::chat_template::from_model_dir(template_dir_, template_file_);
        const std::size_t n = prompts.size();
        if (out.size() != n) throw argument_error("generate: out and prompts differ in size");
        text::chat_render_options ro;
        ro.add_generation_prompt = params.add_generation_prompt;
        std::vector<std::string> rendered(n);
        std::vector<bool> ok(n, true);
        for (std::size_t i = 0; i < n; ++i) {
            try {
                rendered[i] = tmpl_->render(prompts[i], ro);
            } catch (const error& e) {
                if (!hooks || !hooks->item_error)
                    throw error(e.code(), "item " + std::to_string(i) + ": " + e.what());
                ok[i] = false;
                out[i] = generation{};
                out[i].status = POLYGLOT_STATUS_INVALID_ARGUMENT;
                out[i].error = std::string("chat template: ") + e.what();
                hooks->item_error(i, out[i].status, out[i].error);
            }
        }
        generate_params text_params = params;
        text_params.add_special = false;   // the template writes BOS
        text_params.parse_special = true;  // and the control tokens
        // Runs of rendered items, each seeded from its job-wide index.
        for (std::size_t a = 0; a < n;) {
            if (!ok[a]) {
                ++a;
                continue;
            }
            std::size_t b = a;
            while (b < n && ok[b]) ++b;
            std::vector<std::string_view> views(rendered.begin() + std::ptrdiff_t(a),
                                                rendered.begin() + std::ptrdiff_t(b));
            call_hooks shifted;
            if (hooks) {
                shifted.cancel = hooks->cancel;
                if (hooks->progress) shifted.progress = hooks->progress;
                if (hooks->item_error)
                    shifted.item_error = [&, a](std::uint64_t i, polyglot_status st,
                                                std::string_view m) {
                        hooks->item_error(a + i, st, m);
                    };
            }
            model_->generate(prompt_kind::text, views, {}, first_index + a, text_params,
                             out.subspan(a, b - a), hooks ? &shifted : nullptr);
            a = b;
        }
    }
    std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view> texts,
                                                    bool add_special) override {
        return model_->tokenize(texts, add_special ? POLYGLOT_TOKENIZE_ADD_SPECIAL : 0u);
    }

  private:
    std::shared_ptr<plugin::model> model_;  // shared with model_services
    std::string id_;
    std::filesystem::path template_dir_, template_file_;
    std::optional<text::chat_template> tmpl_;  // loaded on the first message prompt
};

}  // namespace

std::string backend_identity::json() const {
    io::json_writer w;
    w.begin_object();
    for (auto [k, v] : {std::pair<const char*, const std::string*>{"role", &role},
                        {"model", &model},
                        {"backend", &backend},
                        {"plugin_version", &plugin_version},
                        {"device", &device},
                        {"device_name", &device_name},
                        {"dtype", &dtype},
                        {"self_test", &self_test}})
        if (!v->empty()) w.kv(k, *v);
    w.end_object();
    return w.take();
}

backend_identity embedder::identity(std::string_view role) const {
    return identity_from(role, id(), backend(), {}, info_json(), nullptr);
}
backend_identity scorer::identity(std::string_view role) const {
    return identity_from(role, id(), backend(), {}, info_json(), nullptr);
}
backend_identity generator::identity(std::string_view role) const {
    return identity_from(role, id(), backend(), {}, info_json(), nullptr);
}

std::vector<std::vector<std::int32_t>> scorer::tokenize(std::span<const std::string_view>, bool) {
    throw unsupported_error("scorer '" + id() + "' cannot tokenize");
}

void scorer::score_ids(std::span<const std::vector<std::int32_t>>, std::span<const std::size_t>,
                       std::vector<std::vector<float>>&, std::vector<std::vector<std::uint8_t>>*,
                       const call_hooks*) {
    throw unsupported_error("scorer '" + id() + "' cannot score token ids");
}

embedder_spec parse_embedder_spec(std::string_view spec) {
    embedder_spec e;
    constexpr std::string_view ft = "fasttext:";
    if (is_url_spec(spec)) {  // URL#MODEL: the server's model, its identity from the plugin
        e.path = std::string(spec);
        e.id = std::string(spec);
        return e;
    }
    if (spec.substr(0, ft.size()) == ft) {
        e.path = std::string(spec.substr(ft.size()));
        if (e.path.empty())
            throw argument_error("--embedder fasttext:PATH: the model path is missing");
        e.id = std::string(spec);
        return e;
    }
    // "DIR", "DIR:mean" or "DIR:last": a Hugging Face / sentence-transformers directory.
    e.path = std::string(spec);
    for (std::string_view p : {std::string_view(":mean"), std::string_view(":last")}) {
        if (e.path.size() > p.size() &&
            e.path.compare(e.path.size() - p.size(), p.size(), p) == 0) {
            e.pooling = std::string(p.substr(1));
            e.path.resize(e.path.size() - p.size());
            break;
        }
    }
    if (e.path.empty()) throw argument_error("--embedder: empty model path");
    e.id = "hf:" + e.path + (e.pooling.empty() ? "" : ":" + e.pooling);
    return e;
}

std::unique_ptr<embedder> open_embedder(std::string_view spec, const backend_options& opts) {
    if (is_url_spec(spec)) {
        plugin::model m = open_for(spec, {}, POLYGLOT_CAP_EMBED, opts);
        if (!m.supports(POLYGLOT_OP_EMBED)) cannot(m, "embedder", spec, "embed");
        std::string id = model_id(m, spec, {});
        return std::make_unique<plugin_embedder>(std::move(m), std::move(id));
    }
    auto [path, pooling, id] = parse_embedder_spec(spec);
    plugin::model m = open_for(path, pooling, POLYGLOT_CAP_EMBED, opts);
    if (!m.supports(POLYGLOT_OP_EMBED)) cannot(m, "embedder", spec, "embed");
    return std::make_unique<plugin_embedder>(std::move(m), std::move(id));
}

std::unique_ptr<scorer> open_scorer(std::string_view model_dir, const backend_options& opts) {
    std::string path(model_dir);
    if (path.empty()) throw argument_error("scorer: empty model path");
    plugin::model m = open_for(path, {}, POLYGLOT_CAP_SCORE, opts);
    if (!m.supports(POLYGLOT_OP_SCORE)) cannot(m, "scorer", path, "score");
    std::string id = model_id(m, path, "hf:" + path);
    return std::make_unique<plugin_scorer>(std::move(m), std::move(id));
}

std::unique_ptr<generator> open_generator(std::string_view spec, const backend_options& opts) {
    std::string path(spec);
    if (path.empty()) throw argument_error("generator: empty model path");
    plugin::model m = open_for(path, {}, POLYGLOT_CAP_GENERATE, opts);
    if (!m.supports(POLYGLOT_OP_GENERATE)) cannot(m, "generator", path, "generate");
    std::string id = model_id(m, path, "hf:" + path);
    return std::make_unique<plugin_generator>(std::make_shared<plugin::model>(std::move(m)),
                                              std::move(id), template_dir(path, opts),
                                              opts.chat_template);
}

model_services open_model_services(std::string_view spec, const backend_options& opts) {
    if (spec.empty()) throw argument_error("model: empty spec");
    auto m = std::make_shared<plugin::model>(open_for(spec, {}, 0, opts));
    model_services s;
    s.id = model_id(*m, spec, "hf:" + std::string(spec));
    if (m->supports(POLYGLOT_OP_GENERATE))
        s.gen = std::make_unique<plugin_generator>(m, s.id, template_dir(std::string(spec), opts),
                                                   opts.chat_template);
    s.model = std::move(m);
    return s;
}

POLYGLOT_END_NAMESPACE
