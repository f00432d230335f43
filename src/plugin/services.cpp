// SPDX-License-Identifier: Apache-2.0
// open_embedder / open_scorer on top of the plugin host: the model runs on whichever plugin
// --backend selects, and the rest of polyglot only sees embedder / scorer.
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>

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
    if (opts.device >= 0) w.kv("device", static_cast<std::uint64_t>(opts.device));
    w.end_object();
    return w.take();
}

plugin::search_options search_for(const backend_options& opts) {
    plugin::search_options s;
    s.plugin_dirs = opts.plugin_dirs;
    return s;
}

class plugin_embedder final : public embedder {
  public:
    plugin_embedder(plugin::model m, std::string id) : model_(std::move(m)), id_(std::move(id)) {
        dim_ = model_.dim();
    }
    [[nodiscard]] std::size_t dim() const override { return dim_; }
    [[nodiscard]] std::string id() const override { return id_; }
    [[nodiscard]] std::string backend() const override { return model_.plugin().name(); }
    void embed(std::span<const std::string_view> texts, float* out) override {
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
    void score(std::span<const std::string_view> prompts,
               std::span<const std::string_view> responses, std::span<lm_score> out) override {
        model_.score(prompts, responses, out);
    }

  private:
    plugin::model model_;
    std::string id_;
};

}  // namespace

embedder_spec parse_embedder_spec(std::string_view spec) {
    embedder_spec e;
    constexpr std::string_view ft = "fasttext:";
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
    auto [path, pooling, id] = parse_embedder_spec(spec);
    plugin::model m = plugin::open_model(opts.backend, POLYGLOT_CAP_EMBED,
                                         make_config(path, pooling, opts), search_for(opts));
    if (!m.supports(POLYGLOT_OP_EMBED))
        throw unsupported_error("embedder '" + std::string(spec) + "': backend '" +
                                m.plugin().name() + "' cannot embed with this model");
    return std::make_unique<plugin_embedder>(std::move(m), std::move(id));
}

std::unique_ptr<scorer> open_scorer(std::string_view model_dir, const backend_options& opts) {
    std::string path(model_dir);
    if (path.empty()) throw argument_error("scorer: empty model path");
    plugin::model m = plugin::open_model(opts.backend, POLYGLOT_CAP_SCORE,
                                         make_config(path, {}, opts), search_for(opts));
    if (!m.supports(POLYGLOT_OP_SCORE))
        throw unsupported_error("scorer '" + path + "': backend '" + m.plugin().name() +
                                "' cannot score with this model");
    return std::make_unique<plugin_scorer>(std::move(m), "hf:" + path);
}

POLYGLOT_END_NAMESPACE
