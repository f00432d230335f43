// SPDX-License-Identifier: Apache-2.0
// polyglot serve: the OpenAI-compatible routes (vLLM's shapes, shared/docs/generation.md §2).
#include "serve/routes.hpp"

#include <algorithm>
#include <boost/beast/core/detail/base64.hpp>
#include <ctime>
#include <memory>
#include <polyglot/core/error.hpp>
#include <unordered_map>
#include <vector>

#include "serve/engine.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace serve {
namespace {

namespace beast = boost::beast;

std::int64_t now_unix() { return std::int64_t(std::time(nullptr)); }

const char* finish_name(const generation& g) {
    return g.finish_reason == POLYGLOT_FINISH_LENGTH ? "length" : "stop";
}

/// vLLM's stop_reason: the stop string that ended the text, else null (EOS).
void stop_reason(io::json_writer& w, const generation& g, const generate_params& gp) {
    w.key("stop_reason");
    if (g.finish_reason == POLYGLOT_FINISH_STOP && !gp.stop.empty()) {
        // The text excludes the stop string; the one that matched is the first found after it.
        for (const auto& s : gp.stop)
            if (!s.empty()) {
                w.value(s);
                return;
            }
    }
    w.value(nullptr);
}

/// Compares a presented key with the expected one in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;  // the key's length is not the secret
    unsigned char d = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
    return d == 0;
}

}  // namespace

void routes::route(http_call& req, reply_fn reply) {
    ++requests_;
    auto fail = [&](int st, const std::string& msg) { reply(st, error_json(st, msg)); };
    try {
        if (!api_key_.empty()) {
            const std::string want = "Bearer " + api_key_;
            if (!constant_time_equal(req.authorization, want))
                return fail(401, "a valid API key is required (Authorization: Bearer KEY)");
        }
        const std::string& path = req.path;
        if (req.method == http_call::verb::get) {
            if (path == "/v1/models") return models(reply);
            if (path == "/health") return reply(200, "{}");
            return fail(404, "no route GET " + path);
        }
        if (req.method != http_call::verb::post) return fail(405, "method not allowed");
        const json_value body = [&] {
            try {
                return analysis::parse_json(req.body, "request body");
            } catch (const error& e) {
                throw http_error{400, e.what()};
            }
        }();
        if (!body.is_object()) return fail(400, "the request body must be a JSON object");
        check_model(body);
        if (path == "/tokenize") return tokenize(body, reply);
        if (path == "/detokenize") return detokenize(body, reply);
        if (path == "/v1/completions") return completions(body, reply);
        if (path == "/v1/chat/completions") return chat(body, reply);
        if (path == "/v1/embeddings") return embeddings(body, reply);
        return fail(404, "no route POST " + path);
    } catch (const http_error& e) {
        return fail(e.status, e.message);
    } catch (const std::exception& e) {
        return fail(500, e.what());
    }
}

void routes::check_model(const json_value& b) const {
    const std::string& name = model_.name;
    if (const auto* m = field(b, "model"); m && m->is_string() && m->as_string() != name)
        throw http_error{
            404, "the model '" + m->as_string() + "' does not exist (serving '" + name + "')"};
}

void routes::models(reply_fn& reply) {
    io::json_writer w;
    w.begin_object();
    w.kv("object", "list");
    w.key("data").begin_array();
    w.begin_object();
    w.kv("id", model_.name);
    w.kv("object", "model");
    w.kv("created", now_unix());
    w.kv("owned_by", "polyglot");
    if (model_.max_model_len) w.kv("max_model_len", model_.max_model_len);
    w.end_object();
    w.end_array();
    w.end_object();
    reply(200, w.take());
}

void routes::tokenize(const json_value& b, reply_fn reply) {
    if (!model_.can_tokenize) throw http_error{400, "this model cannot tokenize"};
    if (field(b, "messages"))
        throw http_error{400,
                         "tokenizing chat messages needs chat templates, which this build "
                         "does not have"};
    const auto* p = field(b, "prompt");
    if (!p || !p->is_string()) bad_request("'prompt' (a string) is required");
    auto t = std::make_shared<task>();
    t->kind = op::tokenize;
    t->texts = {p->as_string()};
    t->flags = (get_bool(b, "add_special_tokens", true) ? POLYGLOT_TOKENIZE_ADD_SPECIAL : 0u) |
               (get_bool(b, "parse_special", true) ? POLYGLOT_TOKENIZE_PARSE_SPECIAL : 0u);
    const std::size_t mml = model_.max_model_len;
    t->done = [reply, mml](task& t) {
        if (t.status != 200) return reply(t.status, error_json(t.status, t.error));
        io::json_writer w;
        w.begin_object();
        w.kv("count", t.ids[0].size());
        w.kv("max_model_len", mml);
        w.key("tokens").begin_array();
        for (auto id : t.ids[0]) w.value(id);
        w.end_array();
        w.end_object();
        reply(200, w.take());
    };
    eng_->submit(std::move(t));
}

void routes::detokenize(const json_value& b, reply_fn reply) {
    if (!model_.can_detok) throw http_error{400, "this model cannot detokenize"};
    const auto* toks = field(b, "tokens");
    if (!toks || !toks->is_array()) bad_request("'tokens' (a list of token ids) is required");
    auto t = std::make_shared<task>();
    t->kind = op::detokenize;
    t->seqs = {token_ids(*toks, "tokens")};
    t->flags = get_bool(b, "skip_special_tokens", false) ? POLYGLOT_DETOKENIZE_SKIP_SPECIAL : 0u;
    t->done = [reply](task& t) {
        if (t.status != 200) return reply(t.status, error_json(t.status, t.error));
        io::json_writer w;
        w.begin_object();
        w.kv("prompt", t.out_texts[0]);
        w.end_object();
        reply(200, w.take());
    };
    eng_->submit(std::move(t));
}

namespace {

/// One /v1/completions request through its stages: tokenize (text prompts, when prompt
/// log-probs are asked), score, detokenize (ids prompts, for echo), generate, reply. Each stage
/// queues one engine task; the job lives as long as the task that continues it.
struct completion_job : std::enable_shared_from_this<completion_job> {
    std::vector<prompt_item> prompts;
    generate_params gp;
    bool echo = false, want_prompt_lp = false, want_gen_lp = false, return_ids = false;
    std::string model, id;
    engine* e = nullptr;
    reply_fn reply;
    // what the stages found
    std::vector<std::vector<float>> lp;
    std::vector<std::vector<std::uint8_t>> greedy;
    std::unordered_map<std::int32_t, std::string> pieces;
    std::vector<generation> gens;
    std::vector<std::string> echo_text;

    void start();
    void score();
    void echo_stage();
    void generate();
    void finish();
    void fail(task& t) { reply(t.status, error_json(t.status, t.error)); }
    /// Runs @p stage, answering an http_error it throws.
    template <class Stage>
    void guarded(Stage stage) {
        try {
            stage();
        } catch (const http_error& err) {
            reply(err.status, error_json(err.status, err.message));
        }
    }
    void write_choice(io::json_writer& w, std::size_t i, std::uint64_t& prompt_tokens,
                      std::uint64_t& completion_tokens);
};

// Stage 0: text prompts are tokenized first when their log-probs are asked.
void completion_job::start() {
    const bool need_tokens =
        want_prompt_lp &&
        std::any_of(prompts.begin(), prompts.end(), [](const prompt_item& p) { return !p.ids; });
    if (!need_tokens) return score();
    auto t = std::make_shared<task>();
    t->kind = op::tokenize;
    t->flags =
        (gp.add_special ? POLYGLOT_TOKENIZE_ADD_SPECIAL : 0u) | POLYGLOT_TOKENIZE_PARSE_SPECIAL;
    for (auto& p : prompts)
        if (!p.ids) t->texts.push_back(p.text);
    t->done = [self = shared_from_this()](task& t) {
        if (t.status != 200) return self->fail(t);
        std::size_t k = 0;
        for (auto& p : self->prompts)
            if (!p.ids) p.tokens = std::move(t.ids[k++]);
        self->score();
    };
    e->submit(std::move(t));
}

// Stage 1: prompt log-probs.
void completion_job::score() {
    if (!want_prompt_lp) return echo_stage();
    auto t = std::make_shared<task>();
    t->kind = op::score_ids;
    t->want_pieces = true;
    for (auto& p : prompts) t->seqs.push_back(p.tokens);
    t->done = [self = shared_from_this()](task& t) {
        if (t.status != 200) return self->fail(t);
        self->lp = std::move(t.lp);
        self->greedy = std::move(t.greedy);
        self->pieces = std::move(t.pieces);
        self->guarded([&] { self->echo_stage(); });
    };
    e->submit(std::move(t));
}

// Stage 2: the prompt's text for echo (ids prompts are detokenized), then generation.
void completion_job::echo_stage() {
    echo_text.assign(prompts.size(), {});
    std::vector<std::vector<std::int32_t>> seqs;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        if (prompts[i].ids)
            seqs.push_back(prompts[i].tokens);
        else
            echo_text[i] = prompts[i].text;
    }
    if (!echo || seqs.empty()) return generate();
    auto t = std::make_shared<task>();
    t->kind = op::detokenize;
    t->seqs = std::move(seqs);
    t->done = [self = shared_from_this()](task& t) {
        if (t.status != 200) return self->fail(t);
        std::size_t k = 0;
        for (std::size_t i = 0; i < self->prompts.size(); ++i)
            if (self->prompts[i].ids) self->echo_text[i] = t.out_texts[k++];
        self->guarded([&] { self->generate(); });
    };
    e->submit(std::move(t));
}

// Stage 3: generation (when max_tokens > 0).
void completion_job::generate() {
    if (gp.max_new_tokens == 0) return finish();
    auto t = std::make_shared<task>();
    t->kind = op::generate;
    t->gp = gp;
    t->gp.logprobs = want_gen_lp;
    t->want_pieces = want_gen_lp;
    const bool all_ids =
        std::all_of(prompts.begin(), prompts.end(), [](const prompt_item& p) { return p.ids; });
    t->kind_of_prompt = all_ids ? prompt_kind::ids : prompt_kind::text;
    for (auto& p : prompts) {
        if (all_ids)
            t->seqs.push_back(p.tokens);
        else if (p.ids)
            throw http_error{400, "mixing text and token-id prompts is not supported"};
        else
            t->texts.push_back(p.text);
    }
    t->done = [self = shared_from_this()](task& t) {
        if (t.status != 200) return self->fail(t);
        self->gens = std::move(t.gens);
        for (auto& [k, v] : t.pieces) self->pieces[k] = v;
        self->finish();
    };
    e->submit(std::move(t));
}

void completion_job::write_choice(io::json_writer& w, std::size_t i, std::uint64_t& prompt_tokens,
                                  std::uint64_t& completion_tokens) {
    const auto& p = prompts[i];
    const generation* g = gens.empty() ? nullptr : &gens[i];
    prompt_tokens += p.ids ? p.tokens.size() : (g ? g->prompt_tokens : 0);
    w.begin_object();
    w.kv("index", i);
    std::string text = echo ? echo_text[i] : std::string();
    if (g) text += g->text;
    w.kv("text", text);
    w.key("logprobs");
    if (g && want_gen_lp) {
        w.begin_object();
        w.key("tokens").begin_array();
        for (auto t : g->ids) w.value(pieces[t]);
        w.end_array();
        w.key("token_logprobs").begin_array();
        for (float x : g->logprobs) w.value(x);
        w.end_array();
        w.key("top_logprobs").value(nullptr);
        w.end_object();
    } else {
        w.value(nullptr);
    }
    if (g) {
        completion_tokens += g->ids.size();
        w.kv("finish_reason", finish_name(*g));
        stop_reason(w, *g, gp);
    } else {
        w.kv("finish_reason", "length");
        w.key("stop_reason").value(nullptr);
    }
    if (want_prompt_lp) {
        w.key("prompt_logprobs").begin_array();
        const auto& ids = p.tokens;
        for (std::size_t k = 0; k < ids.size(); ++k) {
            if (k == 0) {
                w.value(nullptr);
                continue;
            }
            w.begin_object();
            w.key(std::to_string(ids[k])).begin_object();
            w.kv("logprob", lp[i][k]);
            // Only the actual token is listed: its rank is known when it is the argmax.
            if (greedy[i][k]) w.kv("rank", 1);
            w.kv("decoded_token", pieces[ids[k]]);
            w.end_object();
            w.end_object();
        }
        w.end_array();
    }
    if (return_ids) {
        if (p.ids) {
            w.key("prompt_token_ids").begin_array();
            for (auto t : p.tokens) w.value(t);
            w.end_array();
        }
        if (g) {
            w.key("token_ids").begin_array();
            for (auto t : g->ids) w.value(t);
            w.end_array();
        }
    }
    w.end_object();
}

// The reply, once every stage is done.
void completion_job::finish() {
    io::json_writer w;
    w.begin_object();
    w.kv("id", id);
    w.kv("object", "text_completion");
    w.kv("created", now_unix());
    w.kv("model", model);
    std::uint64_t prompt_tokens = 0, completion_tokens = 0;
    w.key("choices").begin_array();
    for (std::size_t i = 0; i < prompts.size(); ++i)
        write_choice(w, i, prompt_tokens, completion_tokens);
    w.end_array();
    w.key("usage").begin_object();
    w.kv("prompt_tokens", prompt_tokens);
    w.kv("completion_tokens", completion_tokens);
    w.kv("total_tokens", prompt_tokens + completion_tokens);
    w.end_object();
    w.end_object();
    reply(200, w.take());
}

}  // namespace

void routes::completions(const json_value& b, reply_fn reply) {
    auto job = std::make_shared<completion_job>();
    job->prompts = parse_prompts(b);
    job->gp = sampling_of(b, false);
    job->echo = get_bool(b, "echo", false);
    const auto* plp = field(b, "prompt_logprobs");
    const auto* lps = field(b, "logprobs");
    // With echo, prompt log-probs follow `logprobs` when prompt_logprobs is absent (vLLM).
    job->want_prompt_lp = plp || (job->echo && lps);
    job->want_gen_lp = lps != nullptr;
    job->return_ids = get_bool(b, "return_token_ids", false);
    if (job->want_prompt_lp && !model_.can_score) throw http_error{400, "this model cannot score"};
    job->model = model_.name;
    job->id = next_id("cmpl-");
    job->e = eng_;
    job->reply = std::move(reply);
    job->start();
}

void routes::chat(const json_value& b, reply_fn reply) {
    const auto* msgs = field(b, "messages");
    if (!msgs || !msgs->is_array() || msgs->as_array().empty())
        bad_request("'messages' (a non-empty list) is required");
    io::json_writer mw;  // the messages as JSON text, for the generator
    write_json(mw, *msgs);
    const generate_params gp = sampling_of(b, true);
    if (gp.max_new_tokens == 0) bad_request("'max_tokens' must be at least 1");
    const bool want_lp = get_bool(b, "logprobs", false);
    const bool return_ids = get_bool(b, "return_token_ids", false);
    auto t = std::make_shared<task>();
    t->kind = op::generate;
    t->kind_of_prompt = prompt_kind::messages;
    t->texts = {mw.take()};
    t->gp = gp;
    t->gp.logprobs = want_lp;
    t->want_pieces = want_lp;
    const std::string model = model_.name, id = next_id("chatcmpl-");
    t->done = [=](task& t) {
        if (t.status != 200) return reply(t.status, error_json(t.status, t.error));
        const generation& g = t.gens[0];
        io::json_writer w;
        w.begin_object();
        w.kv("id", id);
        w.kv("object", "chat.completion");
        w.kv("created", now_unix());
        w.kv("model", model);
        w.key("choices").begin_array();
        w.begin_object();
        w.kv("index", 0);
        w.key("message").begin_object();
        w.kv("role", "assistant");
        w.kv("content", g.text);
        w.end_object();
        w.key("logprobs");
        if (want_lp) {
            w.begin_object();
            w.key("content").begin_array();
            for (std::size_t k = 0; k < g.ids.size() && k < g.logprobs.size(); ++k) {
                w.begin_object();
                w.kv("token", t.pieces[g.ids[k]]);
                w.kv("logprob", g.logprobs[k]);
                w.key("top_logprobs").begin_array().end_array();
                w.end_object();
            }
            w.end_array();
            w.end_object();
        } else {
            w.value(nullptr);
        }
        w.kv("finish_reason", finish_name(g));
        stop_reason(w, g, gp);
        if (return_ids) {
            w.key("token_ids").begin_array();
            for (auto x : g.ids) w.value(x);
            w.end_array();
        }
        w.end_object();
        w.end_array();
        w.key("usage").begin_object();
        w.kv("prompt_tokens", g.prompt_tokens);
        w.kv("completion_tokens", g.ids.size());
        w.kv("total_tokens", g.prompt_tokens + g.ids.size());
        w.end_object();
        w.end_object();
        reply(200, w.take());
    };
    eng_->submit(std::move(t));
}

void routes::embeddings(const json_value& b, reply_fn reply) {
    if (!model_.can_embed) throw http_error{400, "this model cannot embed"};
    const auto* in = field(b, "input");
    if (!in) bad_request("'input' is required");
    std::vector<std::string> texts;
    if (in->is_string()) {
        texts.push_back(in->as_string());
    } else if (in->is_array()) {
        for (const auto& x : in->as_array()) {
            if (!x.is_string())
                bad_request(
                    "'input' must be a string or a list of strings (token-id inputs are "
                    "not supported)");
            texts.push_back(x.as_string());
        }
    } else {
        bad_request("'input' must be a string or a list of strings");
    }
    const auto* fmt = field(b, "encoding_format");
    const bool b64 = fmt && fmt->is_string() && fmt->as_string() == "base64";
    if (fmt && (!fmt->is_string() || (fmt->as_string() != "float" && !b64)))
        bad_request("encoding_format must be 'float' or 'base64'");
    auto t = std::make_shared<task>();
    t->kind = op::embed;
    t->texts = std::move(texts);
    const std::string model = model_.name;
    const std::size_t d = model_.dim;
    t->done = [=](task& t) {
        if (t.status != 200) return reply(t.status, error_json(t.status, t.error));
        io::json_writer w;
        w.begin_object();
        w.kv("object", "list");
        w.key("data").begin_array();
        std::string enc;
        for (std::size_t i = 0; i < t.texts.size(); ++i) {
            w.begin_object();
            w.kv("object", "embedding");
            w.kv("index", i);
            const float* row = t.emb.data() + i * d;
            if (b64) {
                // Little-endian float32, as OpenAI's encoding_format "base64".
                enc.resize(beast::detail::base64::encoded_size(d * sizeof(float)));
                enc.resize(beast::detail::base64::encode(enc.data(), row, d * sizeof(float)));
                w.kv("embedding", enc);
            } else {
                w.key("embedding").begin_array();
                for (std::size_t k = 0; k < d; ++k) w.value(row[k]);
                w.end_array();
            }
            w.end_object();
        }
        w.end_array();
        w.kv("model", model);
        w.key("usage").begin_object();
        w.kv("prompt_tokens", 0);
        w.kv("total_tokens", 0);
        w.end_object();
        w.end_object();
        reply(200, w.take());
    };
    eng_->submit(std::move(t));
}

}  // namespace serve
POLYGLOT_END_NAMESPACE
