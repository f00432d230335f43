// SPDX-License-Identifier: Apache-2.0
// The remote model: every operation turns into HTTP requests run by http_client, each completed
// request journaled under the hash of its canonical form (op, model, inputs, every parameter).
#include "remote_model.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <sstream>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "base/json/schema.hpp"
#include "common/plugin_config.hpp"
#include "common/truncation.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace remote {
namespace {

using plugin_sdk::status_error;

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// One journal object per file in this process (a scorer and a generator on the same model
/// share it, so their indexes agree).
std::shared_ptr<journal> open_journal(const std::filesystem::path& file) {
    static std::mutex m;
    static std::map<std::filesystem::path, std::weak_ptr<journal>> open;
    std::lock_guard lock(m);
    if (auto j = open[file].lock()) return j;
    auto j = std::make_shared<journal>(file);
    open[file] = j;
    return j;
}

/// A file name for a model: safe characters plus a hash of the full name.
std::string journal_name(std::string_view model) {
    std::string safe;
    for (char c : model) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        safe += ok ? c : '_';
    }
    if (safe.size() > 80) safe.resize(80);
    return safe + "-" + to_hex(hash_request(model)).substr(0, 12) + ".jsonl";
}

void ids_json(io::json_writer& w, std::span<const std::int32_t> ids) {
    w.begin_array();
    for (auto id : ids) w.value(id);
    w.end_array();
}

/// The journaled value of a SCORE record.
std::string score_value(const polyglot_score_result& r) {
    io::json_writer w;
    w.begin_object();
    w.kv("sum_nll", r.sum_nll);
    w.kv("n_scored", r.n_scored);
    w.kv("prompt_tokens", r.prompt_tokens);
    w.kv("response_tokens", r.response_tokens);
    w.kv("truncated", r.truncated);
    w.end_object();
    return w.take();
}

bool read_score_value(const std::string& v, polyglot_score_result& r) {
    simdjson::dom::parser p;
    simdjson::dom::element d;
    if (p.parse(v).get(d)) return false;
    std::uint64_t a, b, c, t;
    double s;
    if (d["sum_nll"].get(s) || d["n_scored"].get(a) || d["prompt_tokens"].get(b) ||
        d["response_tokens"].get(c) || d["truncated"].get(t))
        return false;
    r = polyglot_score_result{s, std::uint32_t(a), std::uint32_t(b), std::uint32_t(c),
                              std::uint32_t(t)};
    return true;
}

/// The journaled value of a SCORE_IDS sequence: log-probs of positions 1..n-1 and greedy flags.
std::string logprob_value(const std::vector<double>& lp, const std::vector<std::uint8_t>& g) {
    io::json_writer w;
    w.begin_object();
    w.key("lp").begin_array();
    for (std::size_t p = 1; p < lp.size(); ++p) w.value(lp[p]);
    w.end_array();
    std::string flags;
    for (std::size_t p = 1; p < g.size(); ++p) flags += g[p] ? '1' : '0';
    w.kv("g", flags);
    w.end_object();
    return w.take();
}

bool read_logprob_value(const std::string& v, std::size_t n, std::vector<double>& lp,
                        std::vector<std::uint8_t>& g) {
    simdjson::dom::parser p;
    simdjson::dom::element d;
    simdjson::dom::array a;
    std::string_view flags;
    if (p.parse(v).get(d) || d["lp"].get(a) || d["g"].get(flags)) return false;
    if (n == 0 || a.size() != n - 1 || flags.size() != n - 1) return false;
    lp.assign(n, nan);
    g.assign(n, 0);
    std::size_t pos = 1;
    for (auto e : a) {
        double x;
        if (e.get(x)) {
            std::int64_t i;
            if (e.get(i)) return false;
            x = double(i);
        }
        lp[pos] = x;
        g[pos] = flags[pos - 1] == '1';
        ++pos;
    }
    return true;
}

std::string embedding_value(const float* row, std::size_t dim) {
    return "{\"e\":\"" +
           base64_encode(
               std::string_view(reinterpret_cast<const char*>(row), dim * sizeof(float))) +
           "\"}";
}

bool read_embedding_value(const std::string& v, std::size_t dim, float* row) {
    simdjson::dom::parser p;
    simdjson::dom::element d;
    std::string_view b64;
    std::string bytes;
    if (p.parse(v).get(d) || d["e"].get(b64) || !base64_decode(b64, bytes) ||
        bytes.size() != dim * sizeof(float))
        return false;
    std::memcpy(row, bytes.data(), bytes.size());
    return true;
}

std::string generated_value(const generated& g) {
    io::json_writer w;
    w.begin_object();
    w.kv("text", g.text);
    w.key("ids");
    ids_json(w, g.ids);
    w.key("lp").begin_array();
    for (float x : g.logprobs) w.value(x);
    w.end_array();
    w.kv("finish", g.finish);
    w.kv("prompt_tokens", g.prompt_tokens);
    w.kv("refusal", g.refusal);
    w.end_object();
    return w.take();
}

bool read_generated_value(const std::string& v, generated& g) {
    simdjson::dom::parser p;
    simdjson::dom::element d;
    simdjson::dom::array ids, lps;
    std::string_view text, refusal;
    std::int64_t finish;
    std::uint64_t pt;
    if (p.parse(v).get(d) || d["text"].get(text) || d["ids"].get(ids) || d["lp"].get(lps) ||
        d["finish"].get(finish) || d["prompt_tokens"].get(pt) || d["refusal"].get(refusal))
        return false;
    g = {};
    g.text.assign(text);
    for (auto e : ids) {
        std::int64_t x;
        if (e.get(x)) return false;
        g.ids.push_back(std::int32_t(x));
    }
    for (auto e : lps) {
        double x;
        if (e.get(x)) return false;
        g.logprobs.push_back(float(x));
    }
    g.finish = std::int32_t(finish);
    g.prompt_tokens = std::uint32_t(pt);
    g.refusal.assign(refusal);
    return true;
}

/// Progress of one call: items finished (from any phase) and tokens processed.
struct progress_meter {
    const plugin_sdk::call_context& ctx;
    std::size_t total;
    std::size_t done = 0;
    std::uint64_t tokens = 0;
    void report() const { ctx.progress(done, total, tokens); }
};

}  // namespace

std::uint64_t sequence_seed(std::uint64_t seed, std::uint64_t index) noexcept {
    auto mix = [](std::uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    return mix(seed ^ mix(index));
}

remote_config parse_config(std::string_view config_json) {
    simdjson::dom::parser parser;
    auto obj = ::polyglot::model::parse_config(parser, config_json);
    remote_config c;
    c.spec = ::polyglot::model::config_string(obj, "model");
    if (c.spec.empty()) throw argument_error("config: 'model' (a server URL) is required");
    if (!is_url_spec(c.spec))
        throw argument_error(
            "model '" + c.spec +
            "': the remote backend takes a server URL (http://host:port/v1#MODEL)");
    if (auto k = ::polyglot::model::config_string(obj, "server_kind"); !k.empty()) c.kind = k;
    if (c.kind != "auto" && !parse_server_kind(c.kind)) {
        std::string names;
        for (const auto& d : server_kinds()) names += std::string(d.name) + ", ";
        names.resize(names.size() - 2);
        throw argument_error("--server-kind '" + c.kind + "': expected " + names + " or auto");
    }
    if (auto k = ::polyglot::model::config_string(obj, "api_key_env"); !k.empty())
        c.api_key_env = k;
    c.client.concurrency = ::polyglot::model::config_size(obj, "concurrency", 32);
    if (c.client.concurrency == 0) throw argument_error("--concurrency must be at least 1");
    c.client.max_retries = ::polyglot::model::config_size(obj, "max_retries", 5);
    auto number = [&](const char* key, double fallback) {
        auto v = obj[key];
        if (v.error() == simdjson::NO_SUCH_FIELD) return fallback;
        double d;
        if (v.get(d)) {
            std::uint64_t u;
            if (v.get(u))
                throw argument_error(std::string("config: '") + key + "' must be a number");
            d = double(u);
        }
        return d;
    };
    c.client.request_timeout = number("request_timeout", 600);
    if (!(c.client.request_timeout > 0)) throw argument_error("--request-timeout must be positive");
    c.client.backoff_base = number("backoff_base", 0.5);
    c.client.backoff_max = number("backoff_max", 60);
    c.max_tokens = ::polyglot::model::config_size(obj, "max_tokens", 16384);
    if (c.max_tokens == 0) c.max_tokens = 16384;
    bool b;
    if (!obj["parse_special"].get(b)) c.parse_special = b;
    if (!obj["no_cache"].get(b)) c.no_cache = b;
    c.journal_dir = ::polyglot::model::config_string(obj, "journal_dir");
    c.tokenizer = ::polyglot::model::config_string(obj, "tokenizer");
    c.embed_batch =
        std::max<std::size_t>(1, ::polyglot::model::config_size(obj, "embed_batch", 16));
    return c;
}

remote_model::remote_model(remote_config cfg) : cfg_(std::move(cfg)) {
    const url_spec us = split_url_spec(cfg_.spec);
    if (us.url.size() <= 8) throw argument_error("model '" + cfg_.spec + "': the URL has no host");
    ep_ = endpoints_of(us.url);
    model_ = us.model;
    display_ = display_url(us.url);
    if (const char* key = std::getenv(cfg_.api_key_env.c_str()); key && *key)
        cfg_.client.api_key = key;
    client_ = std::make_unique<http_client>(cfg_.client);
    if (!cfg_.tokenizer.empty()) {
        tok_ = ::polyglot::model::hf_tokenizer::load(cfg_.tokenizer);
        // The journal key names the tokenizer by its content, not its path.
        std::filesystem::path f = cfg_.tokenizer;
        if (std::filesystem::is_directory(f)) f /= "tokenizer.json";
        std::ifstream in(f, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        tokenizer_id_ = "sha256:" + to_hex(hash_request(ss.str()));
    }
    resolve();
    if (!cfg_.no_cache && !cfg_.journal_dir.empty())
        journal_ = open_journal(cfg_.journal_dir / journal_name(model_));
}

remote_model::~remote_model() {
    if (journal_) {
        try {
            journal_->sync();
        } catch (...) {
        }
    }
}

void remote_model::resolve() {
    const auto explicit_kind = parse_server_kind(cfg_.kind);
    std::string models_body, models_error;
    try {
        models_body = client_->fetch({ep_.openai + "/models", {}, true}, [](const std::string& b) {
            model_list l;
            return parse_models(b, l);
        });
    } catch (const error& e) {
        models_error = e.what();
    }
    model_list list;
    if (!models_body.empty()) parse_models(models_body, list);
    if (models_body.empty() && !(explicit_kind && !model_.empty()))
        throw status_error(POLYGLOT_STATUS_UNAVAILABLE,
                           "cannot ask " + display_ + " which models it serves: " + models_error);
    if (model_.empty()) {
        if (list.ids.size() != 1) {
            std::string all;
            for (const auto& id : list.ids) all += (all.empty() ? "" : ", ") + id;
            throw argument_error(
                "server " + display_ + " serves " + std::to_string(list.ids.size()) +
                " models; name one after '#' (URL#MODEL): " + (all.empty() ? "(none)" : all));
        }
        model_ = list.ids.front();
    }
    if (explicit_kind) {
        kind_ = *explicit_kind;
    } else if (auto k = kind_from_owner(list.owned_by)) {
        kind_ = *k;
    } else {
        // Not vLLM, SGLang, llama.cpp or polyglot by its model list: a kind with a route of its
        // own answers it (TGI /info, llama.cpp /props); anything else is a hosted
        // OpenAI-compatible API.
        kind_ = server_kind::openai;
        auto probe = [&](const std::string& url, bool (*looks)(const std::string&)) {
            try {
                return looks(client_->fetch({url, {}, true}));
            } catch (const error&) {
                return false;
            }
        };
        for (const auto& d : server_kinds())
            if (*d.probe_path && probe(ep_.root + d.probe_path, d.probe_looks)) {
                kind_ = d.kind;
                break;
            }
    }
    if (!models_body.empty() && describe(kind_).lists_model_ids && !list.ids.empty() &&
        std::find(list.ids.begin(), list.ids.end(), model_) == list.ids.end()) {
        std::string all;
        for (const auto& id : list.ids) all += (all.empty() ? "" : ", ") + id;
        throw argument_error("server " + display_ + " does not serve model '" + model_ +
                             "' (it serves: " + all + ")");
    }
    if (!models_body.empty()) max_model_len_ = max_model_len_of(models_body, model_);
}

std::string remote_model::refusal(polyglot_op op) const {
    const server_description& d = describe(kind_);
    switch (op) {
        case POLYGLOT_OP_SCORE:
            if (*d.score_refusal) return d.score_refusal;
            if (d.score_text_body && !tok_) return d.score_text_refusal;
            if (!tok_ && !d.has_tokenize)
                return "the server has no tokenizer endpoint: give --remote-tokenizer DIR";
            return {};
        case POLYGLOT_OP_SCORE_IDS:
            if (*d.score_refusal) return d.score_refusal;
            return d.score_ids_refusal;
        case POLYGLOT_OP_TOKENIZE:
            if (!tok_ && !d.has_tokenize)
                return std::string("a ") + d.name +
                       " server has no tokenizer endpoint: give --remote-tokenizer DIR";
            return {};
        case POLYGLOT_OP_DETOKENIZE:
            if (!d.has_tokenize)
                return std::string("a ") + d.name + " server has no detokenize endpoint";
            return {};
        case POLYGLOT_OP_EMBED:
            return d.embed_refusal;
        case POLYGLOT_OP_GENERATE:
        case POLYGLOT_OP_CHAT:
        case POLYGLOT_OP_JSON_SCHEMA:
            return {};
        default:
            return "unknown operation";
    }
}

bool remote_model::supports(polyglot_op op) const { return refusal(op).empty(); }

std::string remote_model::info_json() const {
    io::json_writer w;
    w.begin_object();
    w.kv("plugin", "remote");
    w.kv("id", "remote:" + display_ + "#" + model_);
    w.kv("server", display_);
    w.kv("server_kind", kind_name(kind_));
    w.kv("model", model_);
    w.key("max_model_len");
    if (max_model_len_)
        w.value(max_model_len_);
    else
        w.value(nullptr);
    w.kv("score_limit", score_limit());
    w.kv("tokenizer", tok_ ? cfg_.tokenizer.string() : std::string("server"));
    w.key("journal");
    if (journal_)
        w.value(journal_->path().string());
    else
        w.value(nullptr);
    w.kv("concurrency", cfg_.client.concurrency);
    w.kv("max_retries", cfg_.client.max_retries);
    w.kv("request_timeout", cfg_.client.request_timeout);
    w.kv("api_key_env", cfg_.api_key_env);  // the variable's name, never its value
    w.key("limits").begin_object();
    static constexpr std::pair<polyglot_op, const char*> ops[] = {
        {POLYGLOT_OP_TOKENIZE, "tokenize"},
        {POLYGLOT_OP_DETOKENIZE, "detokenize"},
        {POLYGLOT_OP_SCORE, "score"},
        {POLYGLOT_OP_SCORE_IDS, "score_ids"},
        {POLYGLOT_OP_EMBED, "embed"}};
    for (auto [op, name] : ops)
        if (auto r = refusal(op); !r.empty()) w.kv(name, r);
    w.end_object();
    const auto& st = client_->stats();
    w.key("stats").begin_object();
    w.kv("requests", st.sent.load());
    w.kv("retries", st.retries.load());
    w.kv("failed", st.failed.load());
    w.kv("cached", cached_.load());
    w.end_object();
    w.end_object();
    return w.take();
}

std::size_t remote_model::score_limit() const noexcept {
    std::size_t limit = cfg_.max_tokens;
    if (max_model_len_ > 0) {
        // vLLM, SGLang and TGI generate one token after the prompt; polyglot serve none.
        const std::size_t room = describe(kind_).score_room;
        if (max_model_len_ > room) limit = std::min(limit, max_model_len_ - room);
    }
    return limit;
}

// ---- TOKENIZE ---------------------------------------------------------------------------------

void remote_model::tokenize(std::string_view text, std::uint32_t flags,
                            std::vector<std::int32_t>& out) const {
    const bool special = flags & POLYGLOT_TOKENIZE_ADD_SPECIAL;
    const bool parse = flags & POLYGLOT_TOKENIZE_PARSE_SPECIAL;
    if (tok_) {
        auto ids = tok_->encode(text, {.add_special_tokens = special, .parse_special = parse});
        out.insert(out.end(), ids.begin(), ids.end());
        return;
    }
    if (auto r = refusal(POLYGLOT_OP_TOKENIZE); !r.empty())
        throw status_error(POLYGLOT_STATUS_UNSUPPORTED, r);
    std::vector<std::int32_t> ids;
    client_->fetch({tokenize_url(kind_, ep_), tokenize_body(kind_, model_, text, special, parse)},
                   [&](const std::string& b) { return parse_tokenize(b, ids); });
    out.insert(out.end(), ids.begin(), ids.end());
}

void remote_model::tokenize_many(const std::vector<std::string_view>& texts,
                                 const std::vector<bool>& special,
                                 std::vector<std::vector<std::int32_t>>& out,
                                 std::vector<std::string>& errors,
                                 const plugin_sdk::call_context& ctx) const {
    out.assign(texts.size(), {});
    errors.assign(texts.size(), {});
    if (tok_) {
        for (std::size_t i = 0; i < texts.size(); ++i) {
            auto ids = tok_->encode(texts[i], {.add_special_tokens = bool(special[i]),
                                               .parse_special = cfg_.parse_special});
            out[i].assign(ids.begin(), ids.end());
        }
        return;
    }
    batch_hooks h;
    h.make = [&](std::size_t i) {
        return http_request{tokenize_url(kind_, ep_),
                            tokenize_body(kind_, model_, texts[i], special[i], cfg_.parse_special)};
    };
    h.accept = [&](std::size_t i, const std::string& b) { return parse_tokenize(b, out[i]); };
    h.fail = [&](std::size_t i, const std::string& why) {
        errors[i] = "tokenize: " + why;
        if (errors[i].size() == 10) errors[i] += "failed";
    };
    h.cancelled = [&] { return ctx.cancelled(); };
    client_->run(texts.size(), h);
}

std::size_t remote_model::special_prefix() const {
    std::lock_guard lock(lazy_mutex_);
    if (prefix_) return *prefix_;
    if (tok_) {
        prefix_ = tok_->prefix_special().size();
        return *prefix_;
    }
    // The server's post-processor: tokenize one text with and without special tokens; the
    // plain ids sit inside the special ones after the prefix.
    std::vector<std::int32_t> with, without;
    const std::string probe = "a";
    client_->fetch({tokenize_url(kind_, ep_), tokenize_body(kind_, model_, probe, true, false)},
                   [&](const std::string& b) { return parse_tokenize(b, with); });
    client_->fetch({tokenize_url(kind_, ep_), tokenize_body(kind_, model_, probe, false, false)},
                   [&](const std::string& b) { return parse_tokenize(b, without); });
    std::size_t n = 0;
    if (!without.empty()) {
        auto it = std::search(with.begin(), with.end(), without.begin(), without.end());
        if (it != with.end()) n = std::size_t(it - with.begin());
    }
    prefix_ = n;
    return n;
}

void remote_model::detokenize(std::span<const std::int32_t> ids, std::uint32_t flags,
                              std::string& out) const {
    if (auto r = refusal(POLYGLOT_OP_DETOKENIZE); !r.empty())
        throw status_error(POLYGLOT_STATUS_UNSUPPORTED, r);
    std::string text;
    client_->fetch({detokenize_url(kind_, ep_),
                    detokenize_body(kind_, model_, ids, flags & POLYGLOT_DETOKENIZE_SKIP_SPECIAL)},
                   [&](const std::string& b) { return parse_detokenize(kind_, b, text); });
    out += text;
}

// ---- SCORE --------------------------------------------------------------------------------------

void remote_model::fetch_logprobs(
    std::vector<logprob_job>& jobs,
    const std::function<void(std::size_t, const std::vector<double>&,
                             const std::vector<std::uint8_t>&)>& on_done,
    const std::function<void(std::size_t, const std::string&)>& on_fail,
    const plugin_sdk::call_context& ctx, std::uint64_t& tokens, std::size_t done_before,
    std::size_t total) {
    std::vector<std::vector<double>> lp(jobs.size());
    std::vector<std::vector<std::uint8_t>> g(jobs.size());
    std::size_t done = done_before;
    batch_hooks h;
    h.make = [&](std::size_t i) {
        if (const auto text_body = describe(kind_).score_text_body)
            return http_request{score_url(kind_, ep_), text_body(jobs[i].text)};
        return http_request{score_url(kind_, ep_), score_ids_body(kind_, model_, jobs[i].ids)};
    };
    h.accept = [&](std::size_t i, const std::string& b) {
        std::string why = parse_prompt_logprobs(kind_, b, jobs[i].ids, lp[i], g[i]);
        if (!why.empty()) return why;
        for (std::size_t p = 1; p < lp[i].size(); ++p)
            if (!std::isfinite(lp[i][p]))
                return "a non-finite log-prob at position " + std::to_string(p);
        on_done(i, lp[i], g[i]);
        tokens += jobs[i].ids.size();
        ++done;
        return std::string();
    };
    h.fail = [&](std::size_t i, const std::string& why) {
        on_fail(i, why);
        ++done;
    };
    h.progress = [&](std::size_t, std::size_t) { ctx.progress(done, total, tokens); };
    h.cancelled = [&] { return ctx.cancelled(); };
    client_->run(jobs.size(), h);
}

void remote_model::score(const plugin_sdk::text_batch_view& prompts,
                         const plugin_sdk::text_batch_view& responses, polyglot_score_result* out) {
    score_batch(prompts, responses, out, plugin_sdk::call_context());
}

void remote_model::score_batch(const plugin_sdk::text_batch_view& prompts,
                               const plugin_sdk::text_batch_view& responses,
                               polyglot_score_result* out, const plugin_sdk::call_context& ctx) {
    if (auto r = refusal(POLYGLOT_OP_SCORE); !r.empty())
        throw status_error(POLYGLOT_STATUS_UNSUPPORTED, r);
    const std::size_t n = prompts.size();
    const std::size_t limit = score_limit();
    const polyglot_score_result failed{nan, 0, 0, 0, 0};
    std::vector<request_key> keys(n);
    std::vector<std::size_t> todo;
    std::size_t done = 0;
    std::uint64_t tokens = 0;
    for (std::size_t i = 0; i < n; ++i) {
        // The canonical SCORE request: what is scored and how, independent of the server kind
        // and host (a rerun against another node of the cluster reuses the journal).
        io::json_writer w;
        w.begin_object();
        w.kv("op", "score");
        w.kv("model", model_);
        w.kv("tokenizer", tokenizer_id_);
        w.kv("limit", limit);
        w.kv("parse_special", cfg_.parse_special);
        w.kv("prompt", prompts[i]);
        w.kv("response", responses[i]);
        w.end_object();
        keys[i] = hash_request(w.str());
        if (journal_)
            if (auto v = journal_->find(keys[i]); v && read_score_value(*v, out[i])) {
                ++cached_;
                ++done;
                continue;
            }
        out[i] = failed;
        todo.push_back(i);
    }
    ctx.progress(done, n, tokens);
    if (todo.empty()) return;

    std::vector<std::string_view> texts;
    std::vector<bool> special;
    for (std::size_t i : todo) {
        texts.push_back(prompts[i]);
        special.push_back(true);  // the prompt with the model's special tokens (BOS)
        texts.push_back(responses[i]);
        special.push_back(false);  // the response without
    }
    std::vector<std::vector<std::int32_t>> toks;
    std::vector<std::string> errs;
    tokenize_many(texts, special, toks, errs, ctx);
    if (ctx.cancelled()) return;
    const std::size_t nprefix = special_prefix();

    std::vector<logprob_job> jobs;
    std::vector<std::size_t> job_record, job_from;
    for (std::size_t k = 0; k < todo.size(); ++k) {
        const std::size_t i = todo[k];
        const std::string& err = !errs[2 * k].empty() ? errs[2 * k] : errs[2 * k + 1];
        if (!err.empty()) {
            ++done;
            ctx.item_failed(i, POLYGLOT_STATUS_UNAVAILABLE, err);
            continue;
        }
        auto& p = toks[2 * k];
        auto& r = toks[2 * k + 1];
        const std::size_t full = p.size() + r.size();
        const bool cut = ::polyglot::model::truncate_pair(p, r, nprefix, limit).truncated();
        polyglot_score_result res{0, 0, std::uint32_t(p.size()), std::uint32_t(r.size()),
                                  cut ? 1u : 0u};
        logprob_job job;
        job.ids = std::move(p);
        const std::size_t from = job.ids.size();
        job.ids.insert(job.ids.end(), r.begin(), r.end());
        const std::size_t first = std::max<std::size_t>(from, 1);
        if (job.ids.size() <= first) {  // nothing to score: no request
            out[i] = res;
            if (journal_) journal_->append(keys[i], score_value(res));
            ++done;
            continue;
        }
        if (describe(kind_).score_text_body) {
            if (cut) {
                ++done;
                ctx.item_failed(i, POLYGLOT_STATUS_UNSUPPORTED,
                                std::to_string(full) + " tokens exceed the limit of " +
                                    std::to_string(limit) + ": " + describe(kind_).display +
                                    " takes text, so the truncated ids cannot be sent");
                continue;
            }
            job.text = std::string(prompts[i]) + std::string(responses[i]);
        }
        out[i] = res;
        jobs.push_back(std::move(job));
        job_record.push_back(i);
        job_from.push_back(first);
    }
    fetch_logprobs(
        jobs,
        [&](std::size_t j, const std::vector<double>& lp, const std::vector<std::uint8_t>&) {
            const std::size_t i = job_record[j];
            double sum = 0;
            for (std::size_t p = job_from[j]; p < lp.size(); ++p) sum -= lp[p];
            out[i].sum_nll = sum;
            out[i].n_scored = std::uint32_t(lp.size() - job_from[j]);
            if (journal_) journal_->append(keys[i], score_value(out[i]));
        },
        [&](std::size_t j, const std::string& why) {
            out[job_record[j]] = failed;
            ctx.item_failed(job_record[j], POLYGLOT_STATUS_UNAVAILABLE, why);
        },
        ctx, tokens, done, n);
}

void remote_model::score_ids(const plugin_sdk::id_batch_view& seqs, const std::uint64_t* score_from,
                             float* logprobs, std::uint8_t* greedy,
                             const plugin_sdk::call_context& ctx) {
    if (auto r = refusal(POLYGLOT_OP_SCORE_IDS); !r.empty())
        throw status_error(POLYGLOT_STATUS_UNSUPPORTED, r);
    const std::size_t n = seqs.size();
    const std::size_t room = describe(kind_).score_room;
    std::vector<request_key> keys(n);
    std::vector<logprob_job> jobs;
    std::vector<std::size_t> job_seq;
    std::size_t done = 0;
    std::uint64_t tokens = 0;
    auto fill = [&](std::size_t i, const std::vector<double>& lp,
                    const std::vector<std::uint8_t>& g) {
        const std::uint64_t off = seqs.offset(i);
        for (std::size_t p = std::max<std::size_t>(score_from[i], 1); p < lp.size(); ++p) {
            logprobs[off + p] = float(lp[p]);
            if (greedy) greedy[off + p] = g[p];
        }
    };
    for (std::size_t i = 0; i < n; ++i) {
        const auto ids = seqs[i];
        if (ids.size() <= 1 || score_from[i] >= ids.size()) {
            ++done;  // no position to score
            continue;
        }
        if (max_model_len_ > room && ids.size() > max_model_len_ - room) {
            ++done;
            ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT,
                            "a sequence of " + std::to_string(ids.size()) +
                                " tokens is longer than the server's context of " +
                                std::to_string(max_model_len_ - room));
            continue;
        }
        io::json_writer w;
        w.begin_object();
        w.kv("op", "score_ids");
        w.kv("model", model_);
        w.key("ids");
        ids_json(w, ids);
        w.end_object();
        keys[i] = hash_request(w.str());
        std::vector<double> lp;
        std::vector<std::uint8_t> g;
        if (journal_)
            if (auto v = journal_->find(keys[i]); v && read_logprob_value(*v, ids.size(), lp, g)) {
                fill(i, lp, g);
                ++cached_;
                ++done;
                continue;
            }
        jobs.push_back({std::vector<std::int32_t>(ids.begin(), ids.end()), {}});
        job_seq.push_back(i);
    }
    ctx.progress(done, n, tokens);
    fetch_logprobs(
        jobs,
        [&](std::size_t j, const std::vector<double>& lp, const std::vector<std::uint8_t>& g) {
            if (journal_) journal_->append(keys[job_seq[j]], logprob_value(lp, g));
            fill(job_seq[j], lp, g);
        },
        [&](std::size_t j, const std::string& why) {
            ctx.item_failed(job_seq[j], POLYGLOT_STATUS_UNAVAILABLE, why);
        },
        ctx, tokens, done, n);
}

// ---- EMBED --------------------------------------------------------------------------------------

namespace {

std::string embed_canonical(std::string_view model, std::string_view text) {
    io::json_writer w;
    w.begin_object();
    w.kv("op", "embed");
    w.kv("model", model);
    w.kv("text", text);
    w.end_object();
    return w.take();
}

}  // namespace

std::uint32_t remote_model::dim() const {
    if (auto r = refusal(POLYGLOT_OP_EMBED); !r.empty())
        throw status_error(POLYGLOT_STATUS_UNSUPPORTED, r);
    std::lock_guard lock(lazy_mutex_);
    if (dim_) return dim_;
    // The dimension is whatever the server's embeddings have: ask with a one-word probe
    // (journaled like any text, so a resumed run does not ask again).
    const std::string probe = "a";
    const request_key key = hash_request(embed_canonical(model_, probe));
    if (journal_)
        if (auto v = journal_->find(key)) {
            simdjson::dom::parser p;
            simdjson::dom::element d;
            std::string_view b64;
            std::string bytes;
            if (!p.parse(*v).get(d) && !d["e"].get(b64) && base64_decode(b64, bytes) &&
                !bytes.empty() && bytes.size() % 4 == 0) {
                dim_ = std::uint32_t(bytes.size() / 4);
                return dim_;
            }
        }
    const std::string_view one[] = {probe};
    std::size_t d = 0;
    std::vector<float> row;
    client_->fetch({embed_url(ep_), embed_body(kind_, model_, one)},
                   [&](const std::string& b) { return parse_embeddings(b, 1, d, row); });
    if (d == 0 || d > (1u << 24))
        throw status_error(POLYGLOT_STATUS_UNAVAILABLE,
                           "the server's embeddings have no dimension");
    if (journal_) journal_->append(key, embedding_value(row.data(), d));
    dim_ = std::uint32_t(d);
    return dim_;
}

void remote_model::embed(const plugin_sdk::text_batch_view& texts, float* out) const {
    embed_batch(texts, out, plugin_sdk::call_context());
}

void remote_model::embed_batch(const plugin_sdk::text_batch_view& texts, float* out,
                               const plugin_sdk::call_context& ctx) const {
    const std::size_t d = dim();
    const std::size_t n = texts.size();
    std::vector<request_key> keys(n);
    std::vector<std::size_t> todo;
    std::size_t done = 0;
    std::uint64_t tokens = 0;
    for (std::size_t i = 0; i < n; ++i) {
        keys[i] = hash_request(embed_canonical(model_, texts[i]));
        if (journal_)
            if (auto v = journal_->find(keys[i]); v && read_embedding_value(*v, d, out + i * d)) {
                ++cached_;
                ++done;
                continue;
            }
        todo.push_back(i);
    }
    ctx.progress(done, n, tokens);
    // Several texts per request; a request that fails for good is split into single texts, so
    // that one bad text fails alone.
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t k = 0; k < todo.size(); k += cfg_.embed_batch)
        groups.emplace_back(todo.begin() + long(k),
                            todo.begin() + long(std::min(todo.size(), k + cfg_.embed_batch)));
    for (int pass = 0; pass < 2 && !groups.empty(); ++pass) {
        std::vector<std::vector<std::size_t>> singles;
        std::vector<float> rows;
        batch_hooks h;
        h.make = [&](std::size_t g) {
            std::vector<std::string_view> batch;
            for (std::size_t i : groups[g]) batch.push_back(texts[i]);
            return http_request{embed_url(ep_), embed_body(kind_, model_, batch)};
        };
        h.accept = [&](std::size_t g, const std::string& b) {
            std::size_t dd = d;  // checked on every reply
            std::string why = parse_embeddings(b, groups[g].size(), dd, rows);
            if (!why.empty()) return why;
            for (std::size_t k = 0; k < groups[g].size(); ++k) {
                const std::size_t i = groups[g][k];
                std::copy_n(rows.begin() + long(k * d), d, out + i * d);
                if (journal_) journal_->append(keys[i], embedding_value(out + i * d, d));
                tokens += texts[i].size();
                ++done;
            }
            return std::string();
        };
        h.fail = [&](std::size_t g, const std::string& why) {
            if (groups[g].size() > 1 && pass == 0) {
                for (std::size_t i : groups[g]) singles.push_back({i});
                return;
            }
            for (std::size_t i : groups[g]) {
                ++done;
                ctx.item_failed(i, POLYGLOT_STATUS_UNAVAILABLE, why);
            }
        };
        h.progress = [&](std::size_t, std::size_t) { ctx.progress(done, n, tokens); };
        h.cancelled = [&] { return ctx.cancelled(); };
        client_->run(groups.size(), h);
        groups = std::move(singles);
    }
}

// ---- GENERATE -----------------------------------------------------------------------------------

namespace {

/// The sampling and stopping of a GENERATE call (the seed is set per sequence).
sampling sampling_of_call(const plugin_sdk::generate_call& call) {
    const auto& rq = call.raw;
    sampling base;
    base.max_new_tokens = rq.max_new_tokens;
    base.temperature = rq.temperature;
    base.top_k = rq.top_k;
    base.top_p = rq.top_p;
    base.min_p = rq.min_p;
    base.repetition_penalty = rq.repetition_penalty;
    for (auto s : call.stop) base.stop.emplace_back(s);
    base.stop_ids.assign(call.stop_ids.begin(), call.stop_ids.end());
    base.logprobs = rq.flags & POLYGLOT_GENERATE_LOGPROBS;
    base.ignore_eos = rq.flags & POLYGLOT_GENERATE_IGNORE_EOS;
    base.keep_special = rq.flags & POLYGLOT_GENERATE_KEEP_SPECIAL;
    base.add_special = rq.flags & POLYGLOT_GENERATE_ADD_SPECIAL;
    base.add_generation_prompt = rq.flags & POLYGLOT_GENERATE_ADD_GENERATION_PROMPT;
    base.json_schema = std::string(call.json_schema);
    return base;
}

/// The members of extra_json, merged into every request body ("" = none).
std::string extra_members(std::string_view extra_json) {
    std::string extra;
    if (!extra_json.empty()) {
        simdjson::dom::parser p;
        simdjson::dom::element e;
        if (p.parse(std::string(extra_json)).get(e) || !e.is_object())
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, "extra_json is not a JSON object");
        std::string m = simdjson::minify(e);
        if (m.size() > 2) extra = m.substr(1, m.size() - 2);
    }
    return extra;
}

/// The canonical GENERATE request of sequence @p i (its journal key): the prompt and every
/// parameter, independent of the server kind.
std::string generate_canonical(std::string_view model, const plugin_sdk::generate_call& call,
                               std::size_t i, const sampling& s, std::string_view extra) {
    const bool chat = call.prompt_kind == POLYGLOT_PROMPT_MESSAGES;
    io::json_writer w;
    w.begin_object();
    w.kv("op", "generate");
    w.kv("endpoint", chat ? "chat" : "completions");
    w.kv("model", model);
    if (call.prompt_kind == POLYGLOT_PROMPT_IDS) {
        w.key("ids");
        ids_json(w, call.prompt_ids[i]);
    } else {
        w.kv(chat ? "messages" : "prompt", call.prompts[i]);
    }
    w.kv("max_new_tokens", s.max_new_tokens);
    w.kv("temperature", double(s.temperature));
    w.kv("top_k", s.top_k);
    w.kv("top_p", double(s.top_p));
    w.kv("min_p", double(s.min_p));
    w.kv("repetition_penalty", double(s.repetition_penalty));
    w.kv("seed", s.seed);
    w.key("stop").begin_array();
    for (const auto& x : s.stop) w.value(x);
    w.end_array();
    w.key("stop_ids");
    ids_json(w, s.stop_ids);
    w.kv("flags", call.raw.flags);
    w.kv("schema", s.json_schema);
    w.kv("extra", extra);
    w.end_object();
    return w.take();
}

/// A generated sequence into the caller's item (text, ids and log-probs up to its capacities).
void copy_generated(const generated& g, bool want_logprobs, polyglot_generation& it) {
    it.text_len = g.text.size();
    if (g.text.size() > it.text_cap) {
        it.status = POLYGLOT_STATUS_BUFFER_TOO_SMALL;
    } else if (!g.text.empty()) {
        std::memcpy(it.text, g.text.data(), g.text.size());
    }
    const std::size_t k = std::min<std::size_t>(g.ids.size(), it.ids_cap);
    std::copy_n(g.ids.begin(), k, it.ids);
    it.n_ids = std::uint32_t(k);
    if (it.logprobs && want_logprobs)
        for (std::size_t j = 0; j < std::min(g.logprobs.size(), std::size_t(it.ids_cap)); ++j)
            it.logprobs[j] = g.logprobs[j];
    it.finish_reason = g.finish;
    it.prompt_tokens = g.prompt_tokens;
}

}  // namespace

void remote_model::generate(const plugin_sdk::generate_call& call, polyglot_generation* items,
                            const plugin_sdk::call_context& ctx) {
    const auto& rq = call.raw;
    const std::size_t n = call.size();
    const bool chat = call.prompt_kind == POLYGLOT_PROMPT_MESSAGES;
    const bool use_ids = call.prompt_kind == POLYGLOT_PROMPT_IDS;
    const sampling base = sampling_of_call(call);
    if (auto bad = unsupported_sampling(kind_, base); !bad.empty())
        throw status_error(POLYGLOT_STATUS_UNSUPPORTED,
                           std::string("a ") + kind_name(kind_) + " server does not take " + bad);
    if (!base.json_schema.empty()) {
        simdjson::dom::parser p;
        simdjson::dom::element e;
        if (p.parse(base.json_schema).get(e) || !e.is_object())
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                               "the JSON schema is not a JSON object");
    }
    const std::string extra = extra_members(call.extra_json);

    std::vector<sampling> per(n, base);
    std::vector<request_key> keys(n);
    std::vector<generated> outs(n);
    std::vector<std::size_t> todo;
    std::size_t done = 0;
    std::uint64_t tokens = 0;

    auto finish = [&](std::size_t i, const generated& g) {
        auto& it = items[i];
        ++done;
        tokens += g.ids.size();
        if (!g.refusal.empty()) {
            it.status = POLYGLOT_STATUS_UNAVAILABLE;
            ctx.item_failed(i, it.status, "the server stopped the sequence: " + g.refusal);
            return;
        }
        if (!base.json_schema.empty()) {
            if (auto why = ::polyglot::model::validate_json_schema(base.json_schema, g.text);
                !why.empty()) {
                it.status = POLYGLOT_STATUS_FORMAT_ERROR;
                ctx.item_failed(i, it.status, "the output does not follow the JSON schema: " + why);
                return;
            }
        }
        copy_generated(g, base.logprobs, it);
    };

    for (std::size_t i = 0; i < n; ++i) {
        per[i].seed = sequence_seed(rq.seed, rq.first_index + i);
        if (chat) {
            simdjson::dom::parser p;
            simdjson::dom::element e;
            if (p.parse(std::string(call.prompts[i])).get(e) || !e.is_array()) {
                ++done;
                items[i].status = POLYGLOT_STATUS_INVALID_ARGUMENT;
                ctx.item_failed(i, items[i].status, "the prompt is not a JSON array of messages");
                continue;
            }
        }
        keys[i] = hash_request(generate_canonical(model_, call, i, per[i], extra));
        if (journal_)
            if (auto v = journal_->find(keys[i]); v && read_generated_value(*v, outs[i])) {
                ++cached_;
                finish(i, outs[i]);
                continue;
            }
        todo.push_back(i);
    }
    ctx.progress(done, n, tokens);

    batch_hooks h;
    h.make = [&](std::size_t j) {
        const std::size_t i = todo[j];
        std::string body =
            chat ? chat_body(kind_, model_, call.prompts[i], per[i])
                 : completion_body(kind_, model_, use_ids ? std::string_view() : call.prompts[i],
                                   use_ids ? call.prompt_ids[i] : std::span<const std::int32_t>(),
                                   use_ids, per[i]);
        if (!extra.empty()) {
            body.pop_back();
            body += "," + extra + "}";
        }
        return http_request{chat ? chat_url(ep_) : completions_url(ep_), std::move(body)};
    };
    h.accept = [&](std::size_t j, const std::string& b) {
        const std::size_t i = todo[j];
        std::string why = parse_generation(b, chat, base.logprobs, outs[i]);
        if (!why.empty()) return why;
        if (outs[i].ids.size() > base.max_new_tokens)
            return "more generated tokens (" + std::to_string(outs[i].ids.size()) +
                   ") than max_tokens";
        if (journal_) journal_->append(keys[i], generated_value(outs[i]));
        finish(i, outs[i]);
        return std::string();
    };
    h.fail = [&](std::size_t j, const std::string& why) {
        const std::size_t i = todo[j];
        ++done;
        items[i].status = POLYGLOT_STATUS_UNAVAILABLE;
        ctx.item_failed(i, items[i].status, why);
    };
    h.progress = [&](std::size_t, std::size_t) { ctx.progress(done, n, tokens); };
    h.cancelled = [&] { return ctx.cancelled(); };
    client_->run(todo.size(), h);
}

}  // namespace remote
POLYGLOT_END_NAMESPACE
