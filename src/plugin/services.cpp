// SPDX-License-Identifier: Apache-2.0
// open_embedder / open_scorer on top of the plugin host: the model runs on whichever plugin
// --backend selects, and the rest of polyglot only sees embedder / scorer.
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/host.hpp>
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
    [[nodiscard]] std::string info_json() const override { return model_.info_json(); }
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

/// GENERATE over a plugin model. Message prompts go to the plugin as messages when it renders
/// chat itself (POLYGLOT_OP_CHAT: a serving engine); for native backends they are rendered here
/// with the model's chat template and sent as text, special tokens parsed and no BOS added
/// again (the template writes it).
class plugin_generator final : public generator {
  public:
    plugin_generator(plugin::model m, std::string id, std::filesystem::path dir,
                     std::filesystem::path template_file)
        : model_(std::move(m)),
          id_(std::move(id)),
          dir_(std::move(dir)),
          template_file_(std::move(template_file)) {}
    [[nodiscard]] std::string id() const override { return id_; }
    [[nodiscard]] std::string backend() const override { return model_.plugin().name(); }
    [[nodiscard]] std::string info_json() const override { return model_.info_json(); }
    void generate(prompt_kind kind, std::span<const std::string_view> prompts,
                  std::span<const std::vector<std::int32_t>> prompt_ids, std::uint64_t first_index,
                  const generate_params& params, std::span<generation> out,
                  const call_hooks* hooks) override {
        if (kind != prompt_kind::messages || model_.supports(POLYGLOT_OP_CHAT)) {
            model_.generate(kind, prompts, prompt_ids, first_index, params, out, hooks);
            return;
        }
        // Native backend: render here; the template writes BOS and the other special tokens.
        if (!template_) template_ = text::chat_template::from_model_dir(dir_, template_file_);
        text::chat_render_options ro;
        ro.add_generation_prompt = params.add_generation_prompt;
        std::vector<std::string> texts(prompts.size());
        for (std::size_t i = 0; i < prompts.size(); ++i)
            texts[i] = template_->render(prompts[i], ro);
        std::vector<std::string_view> views(texts.begin(), texts.end());
        generate_params p = params;
        p.add_special = false;
        p.parse_special = true;
        model_.generate(prompt_kind::text, views, prompt_ids, first_index, p, out, hooks);
    }
    std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view> texts,
                                                    bool add_special) override {
        return model_.tokenize(texts, add_special ? POLYGLOT_TOKENIZE_ADD_SPECIAL : 0u);
    }

  private:
    plugin::model model_;
    std::string id_;
    std::filesystem::path dir_, template_file_;
    std::optional<text::chat_template> template_;  // parsed on the first message prompt
};

}  // namespace

std::vector<std::vector<std::int32_t>> scorer::tokenize(std::span<const std::string_view>, bool) {
    throw unsupported_error("scorer '" + id() + "' cannot tokenize");
}

void scorer::score_ids(std::span<const std::vector<std::int32_t>>, std::span<const std::size_t>,
                       std::vector<std::vector<float>>&, std::vector<std::vector<std::uint8_t>>*,
                       const call_hooks*) {
    throw unsupported_error("scorer '" + id() + "' cannot score token ids");
}

std::unique_ptr<embedder> open_embedder(std::string_view spec, const backend_options& opts) {
    std::string path, pooling, id;
    constexpr std::string_view ft = "fasttext:";
    if (spec.substr(0, ft.size()) == ft) {
        path = std::string(spec.substr(ft.size()));
        if (path.empty())
            throw argument_error("--embedder fasttext:PATH: the model path is missing");
        id = std::string(spec);
    } else {
        // "DIR", "DIR:mean" or "DIR:last": a Hugging Face / sentence-transformers directory.
        path = std::string(spec);
        for (std::string_view p : {std::string_view(":mean"), std::string_view(":last")}) {
            if (path.size() > p.size() && path.compare(path.size() - p.size(), p.size(), p) == 0) {
                pooling = std::string(p.substr(1));
                path.resize(path.size() - p.size());
                break;
            }
        }
        if (path.empty()) throw argument_error("--embedder: empty model path");
        id = "hf:" + path + (pooling.empty() ? "" : ":" + pooling);
    }
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

std::unique_ptr<generator> open_generator(std::string_view spec, const backend_options& opts) {
    std::string path(spec);
    if (path.empty()) throw argument_error("generator: empty model path");
    plugin::model m = plugin::open_model(opts.backend, POLYGLOT_CAP_GENERATE,
                                         make_config(path, {}, opts), search_for(opts));
    if (!m.supports(POLYGLOT_OP_GENERATE))
        throw unsupported_error("generator '" + path + "': backend '" + m.plugin().name() +
                                "' cannot generate with this model");
    return std::make_unique<plugin_generator>(std::move(m), "hf:" + path, path, opts.chat_template);
}

POLYGLOT_END_NAMESPACE
