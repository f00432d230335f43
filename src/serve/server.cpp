// SPDX-License-Identifier: Apache-2.0
// polyglot serve: Boost.Beast HTTP front end, one engine thread that batches concurrent requests
// into backend calls, and the OpenAI-compatible routes (vLLM's shapes).
#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <polyglot/serve/server.hpp>
#include <thread>
#include <unordered_map>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace serve {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using analysis::json_value;

/// A request that cannot be served as asked: HTTP status + message.
struct http_error {
    int status;
    std::string message;
};

[[noreturn]] void bad_request(const std::string& msg) { throw http_error{400, msg}; }

/// Writes a parsed JSON value back out (document order kept): schemas and chat messages are
/// passed on to the generator as JSON text.
void write_json(io::json_writer& w, const json_value& v) {
    if (v.is_null()) {
        w.value(nullptr);
    } else if (v.is_bool()) {
        w.value(v.as_bool());
    } else if (v.is_number()) {
        w.value(v.as_number());
    } else if (v.is_string()) {
        w.value(v.as_string());
    } else if (v.is_array()) {
        w.begin_array();
        for (const auto& x : v.as_array()) write_json(w, x);
        w.end_array();
    } else {
        w.begin_object();
        for (const auto& m : v.as_object()) {
            w.key(m.key);
            write_json(w, m.value);
        }
        w.end_object();
    }
}

std::string error_json(int status, const std::string& message) {
    io::json_writer w;
    w.begin_object();
    w.key("error").begin_object();
    w.kv("message", message);
    w.kv("type", status == 401   ? "AuthenticationError"
                 : status == 404 ? "NotFoundError"
                 : status >= 500 ? "InternalServerError"
                                 : "BadRequestError");
    w.kv("code", status);
    w.end_object();
    w.end_object();
    return w.take();
}

// ---- request fields -------------------------------------------------------------------------

const json_value* field(const json_value& body, std::string_view key) {
    const json_value* v = body.find(key);
    return v && !v->is_null() ? v : nullptr;
}

bool get_bool(const json_value& b, std::string_view key, bool fallback) {
    const auto* v = field(b, key);
    if (!v) return fallback;
    if (!v->is_bool()) bad_request("'" + std::string(key) + "' must be a boolean");
    return v->as_bool();
}

double get_number(const json_value& b, std::string_view key, double fallback) {
    const auto* v = field(b, key);
    if (!v) return fallback;
    if (!v->is_number()) bad_request("'" + std::string(key) + "' must be a number");
    return v->as_number();
}

std::int64_t get_int(const json_value& b, std::string_view key, std::int64_t fallback) {
    const double d = get_number(b, key, double(fallback));
    if (std::floor(d) != d || std::abs(d) > 9e15)
        bad_request("'" + std::string(key) + "' must be an integer");
    return std::int64_t(d);
}

std::vector<std::int32_t> token_ids(const json_value& v, std::string_view what) {
    std::vector<std::int32_t> ids;
    for (const auto& x : v.as_array()) {
        if (!x.is_number() || x.as_number() < 0 || x.as_number() > 2147483647.0 ||
            std::floor(x.as_number()) != x.as_number())
            bad_request(std::string(what) + ": token ids must be non-negative integers");
        ids.push_back(std::int32_t(x.as_number()));
    }
    return ids;
}

bool is_id_list(const json_value& v) {
    return v.is_array() && !v.as_array().empty() && v.as_array().front().is_number();
}

/// A completions prompt: text or token ids.
struct prompt_item {
    bool ids = false;
    std::string text;
    std::vector<std::int32_t> tokens;
};

/// `prompt` = string | [string] | [int] | [[int]].
std::vector<prompt_item> parse_prompts(const json_value& body) {
    const auto* p = field(body, "prompt");
    if (!p) bad_request("'prompt' is required");
    std::vector<prompt_item> out;
    if (p->is_string()) {
        out.push_back({false, p->as_string(), {}});
    } else if (is_id_list(*p)) {
        out.push_back({true, {}, token_ids(*p, "prompt")});
    } else if (p->is_array() && !p->as_array().empty()) {
        for (const auto& x : p->as_array()) {
            if (x.is_string())
                out.push_back({false, x.as_string(), {}});
            else if (is_id_list(x))
                out.push_back({true, {}, token_ids(x, "prompt")});
            else
                bad_request(
                    "'prompt' must be a string, a list of strings, token ids or lists "
                    "of token ids");
        }
    } else {
        bad_request("'prompt' must be a non-empty string, list of strings or token ids");
    }
    return out;
}

generate_params sampling_of(const json_value& b, bool chat) {
    generate_params g;
    const double max_tokens = chat && field(b, "max_completion_tokens")
                                  ? get_number(b, "max_completion_tokens", 16)
                                  : get_number(b, "max_tokens", chat ? 256 : 16);
    if (max_tokens < 0 || max_tokens > 1e7) bad_request("'max_tokens' is out of range");
    g.max_new_tokens = std::uint32_t(max_tokens);
    g.temperature = float(get_number(b, "temperature", 1.0));
    g.top_p = float(get_number(b, "top_p", 1.0));
    g.top_k = std::int32_t(get_int(b, "top_k", 0));
    if (g.top_k < 0) g.top_k = 0;  // vLLM's -1 = off
    g.min_p = float(get_number(b, "min_p", 0.0));
    g.repetition_penalty = float(get_number(b, "repetition_penalty", 1.0));
    // Seeds are 64-bit; JSON numbers reach us as doubles, so seeds above 2^53 are rounded
    // (deterministically: the same request always gets the same seed).
    const double seed = get_number(b, "seed", 0);
    if (std::floor(seed) != seed || seed < -9.3e18 || seed > 1.85e19)
        bad_request("'seed' must be a 64-bit integer");
    g.seed = seed < 0 ? std::uint64_t(std::int64_t(seed)) : std::uint64_t(seed);
    if (const auto* s = field(b, "stop")) {
        if (s->is_string()) {
            g.stop.push_back(s->as_string());
        } else if (s->is_array()) {
            for (const auto& x : s->as_array()) {
                if (!x.is_string()) bad_request("'stop' must hold strings");
                g.stop.push_back(x.as_string());
            }
        } else {
            bad_request("'stop' must be a string or a list of strings");
        }
    }
    if (const auto* s = field(b, "stop_token_ids")) g.stop_ids = token_ids(*s, "stop_token_ids");
    g.ignore_eos = get_bool(b, "ignore_eos", false);
    g.keep_special = !get_bool(b, "skip_special_tokens", true);
    g.add_special = get_bool(b, "add_special_tokens", !chat);
    g.parse_special = true;  // as Hugging Face tokenizers and vLLM do
    g.add_generation_prompt = get_bool(b, "add_generation_prompt", true);
    if (const auto* rf = field(b, "response_format")) {
        const auto* type = rf->find("type");
        if (!type || !type->is_string()) bad_request("response_format.type is required");
        if (type->as_string() == "json_schema") {
            const auto* js = rf->find("json_schema");
            const auto* schema = js ? js->find("schema") : nullptr;
            if (!schema) bad_request("response_format.json_schema.schema is required");
            io::json_writer w;
            write_json(w, *schema);
            g.json_schema = w.take();
        } else if (type->as_string() != "text") {
            bad_request("response_format type '" + type->as_string() +
                        "' is not supported (json_schema or text)");
        }
    }
    if (get_bool(b, "stream", false)) bad_request("streaming is not supported");
    if (get_int(b, "n", 1) != 1) bad_request("'n' must be 1");
    if (field(b, "guided_json") || field(b, "guided_regex") || field(b, "guided_choice"))
        bad_request("guided_* fields are not supported: use response_format json_schema");
    return g;
}

bool same_params(const generate_params& a, const generate_params& b) {
    return a.max_new_tokens == b.max_new_tokens && a.temperature == b.temperature &&
           a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p &&
           a.repetition_penalty == b.repetition_penalty && a.stop == b.stop &&
           a.stop_ids == b.stop_ids && a.logprobs == b.logprobs && a.ignore_eos == b.ignore_eos &&
           a.keep_special == b.keep_special && a.add_special == b.add_special &&
           a.parse_special == b.parse_special &&
           a.add_generation_prompt == b.add_generation_prompt && a.json_schema == b.json_schema &&
           a.extra_json == b.extra_json;
}

// ---- the engine: one thread, batched backend calls --------------------------------------------

enum class op { tokenize, detokenize, score_ids, embed, generate };

struct task {
    op kind = op::tokenize;
    std::uint32_t flags = 0;                      // tokenize / detokenize flags
    std::vector<std::string> texts;               // tokenize, embed, generate (text/messages)
    std::vector<std::vector<std::int32_t>> seqs;  // detokenize, score_ids, generate (ids)
    prompt_kind kind_of_prompt = prompt_kind::text;
    generate_params gp;
    bool want_pieces = false;  // token texts of the ids involved
    // results
    std::vector<std::vector<std::int32_t>> ids;
    std::vector<std::string> out_texts;
    std::vector<std::vector<float>> lp;
    std::vector<std::vector<std::uint8_t>> greedy;
    std::vector<float> emb;
    std::vector<generation> gens;
    std::unordered_map<std::int32_t, std::string> pieces;
    std::string item_error;  // the first failed item's message
    int status = 200;
    std::string error;
    std::function<void(task&)> done;

    [[nodiscard]] std::size_t items() const {
        switch (kind) {
            case op::tokenize:
            case op::embed:
                return texts.size();
            case op::detokenize:
            case op::score_ids:
                return seqs.size();
            case op::generate:
                return kind_of_prompt == prompt_kind::ids ? seqs.size() : texts.size();
        }
        return 0;
    }
};
using task_ptr = std::shared_ptr<task>;

bool can_merge(const task& a, const task& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case op::tokenize:
        case op::detokenize:
            return a.flags == b.flags;
        case op::score_ids:
        case op::embed:
            return true;
        case op::generate:
            // Only greedy requests share a call: sampled sequences are seeded from their index
            // in the call, and a request's output must not depend on what else was queued.
            return a.gp.temperature <= 0 && b.gp.temperature <= 0 &&
                   a.kind_of_prompt == b.kind_of_prompt && same_params(a.gp, b.gp);
    }
    return false;
}

class engine {
  public:
    engine(model_services ms, double window_ms, std::size_t max_batch)
        : ms_(std::move(ms)), window_(window_ms), max_batch_(std::max<std::size_t>(1, max_batch)) {
        thread_ = std::thread([this] { loop(); });
    }
    ~engine() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void submit(task_ptr t) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(t));
        }
        cv_.notify_one();
    }
    [[nodiscard]] plugin::model& model() const { return *ms_.model; }
    [[nodiscard]] generator* gen() const { return ms_.gen.get(); }
    std::atomic<std::uint64_t> calls{0}, items{0};

  private:
    void loop() {
        for (;;) {
            std::vector<task_ptr> group;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (stop_) return;
                // An idle engine waits a moment for concurrent requests to arrive.
                if (queue_.size() == 1 && window_ > 0)
                    cv_.wait_for(lock, std::chrono::duration<double, std::milli>(window_),
                                 [&] { return stop_ || queue_.size() > 1; });
                if (stop_) return;
                group.push_back(queue_.front());
                queue_.pop_front();
                std::size_t n = group.front()->items();
                for (auto it = queue_.begin(); it != queue_.end() && n < max_batch_;) {
                    if (can_merge(*group.front(), **it) && n + (*it)->items() <= max_batch_) {
                        n += (*it)->items();
                        group.push_back(*it);
                        it = queue_.erase(it);
                    } else {
                        ++it;
                    }
                }
            }
            run(group);
            for (auto& t : group) {
                try {
                    if (t->done) t->done(*t);
                } catch (...) {  // a reply that cannot be built must not stop the engine
                }
            }
        }
    }

    void run(std::vector<task_ptr>& group) {
        // Item i of the merged call belongs to task owner[i], as its item local[i].
        std::vector<std::size_t> owner, local;
        for (std::size_t k = 0; k < group.size(); ++k)
            for (std::size_t i = 0; i < group[k]->items(); ++i) {
                owner.push_back(k);
                local.push_back(i);
            }
        ++calls;
        items += owner.size();
        call_hooks hooks;
        hooks.item_error = [&](std::uint64_t i, polyglot_status, std::string_view msg) {
            if (i >= owner.size()) return;
            auto& t = *group[owner[i]];
            if (t.item_error.empty())
                t.item_error = "item " + std::to_string(local[i]) + ": " + std::string(msg);
        };
        try {
            run_call(group, hooks);
        } catch (const http_error& e) {
            for (auto& t : group) t->status = e.status, t->error = e.message;
        } catch (const error& e) {
            const int st =
                (e.code() == errc::invalid_argument || e.code() == errc::unsupported) ? 400 : 500;
            for (auto& t : group) t->status = st, t->error = e.what();
        } catch (const std::exception& e) {
            for (auto& t : group) t->status = 500, t->error = e.what();
        }
        for (auto& t : group)
            if (t->status == 200 && !t->item_error.empty())
                t->status = 400, t->error = t->item_error;
    }

    void run_call(std::vector<task_ptr>& group, const call_hooks& hooks) {
        plugin::model& m = *ms_.model;
        const task& first = *group.front();
        switch (first.kind) {
            case op::tokenize: {
                std::vector<std::string_view> texts;
                for (auto& t : group) texts.insert(texts.end(), t->texts.begin(), t->texts.end());
                auto ids = m.tokenize(texts, first.flags);
                std::size_t at = 0;
                for (auto& t : group)
                    for (std::size_t i = 0; i < t->texts.size(); ++i)
                        t->ids.push_back(std::move(ids[at++]));
                break;
            }
            case op::detokenize: {
                std::vector<std::vector<std::int32_t>> seqs;
                for (auto& t : group) seqs.insert(seqs.end(), t->seqs.begin(), t->seqs.end());
                auto texts = m.detokenize(seqs, first.flags);
                std::size_t at = 0;
                for (auto& t : group)
                    for (std::size_t i = 0; i < t->seqs.size(); ++i)
                        t->out_texts.push_back(std::move(texts[at++]));
                break;
            }
            case op::score_ids: {
                std::vector<std::int32_t> flat;
                std::vector<std::uint64_t> offsets{0}, from;
                for (auto& t : group)
                    for (const auto& s : t->seqs) {
                        flat.insert(flat.end(), s.begin(), s.end());
                        offsets.push_back(flat.size());
                        from.push_back(0);
                    }
                std::vector<float> lp(flat.size());
                std::vector<std::uint8_t> g(flat.size());
                m.score_ids(flat, offsets, from, lp, g, &hooks);
                std::size_t seq = 0;
                for (auto& t : group)
                    for (std::size_t i = 0; i < t->seqs.size(); ++i, ++seq) {
                        const auto b = long(offsets[seq]), e = long(offsets[seq + 1]);
                        t->lp.emplace_back(lp.begin() + b, lp.begin() + e);
                        t->greedy.emplace_back(g.begin() + b, g.begin() + e);
                    }
                fill_pieces(group, [](const task& t) { return t.seqs; });
                break;
            }
            case op::embed: {
                std::vector<std::string_view> texts;
                for (auto& t : group) texts.insert(texts.end(), t->texts.begin(), t->texts.end());
                const std::size_t dim = m.dim();
                std::vector<float> out(texts.size() * dim);
                m.embed(texts, out.data(), &hooks);
                std::size_t at = 0;
                for (auto& t : group) {
                    t->emb.assign(out.begin() + long(at * dim),
                                  out.begin() + long((at + t->texts.size()) * dim));
                    at += t->texts.size();
                }
                break;
            }
            case op::generate: {
                if (!ms_.gen) throw http_error{400, "this model cannot generate"};
                std::vector<std::string_view> texts;
                std::vector<std::vector<std::int32_t>> ids;
                for (auto& t : group) {
                    texts.insert(texts.end(), t->texts.begin(), t->texts.end());
                    ids.insert(ids.end(), t->seqs.begin(), t->seqs.end());
                }
                const std::size_t n =
                    first.kind_of_prompt == prompt_kind::ids ? ids.size() : texts.size();
                std::vector<generation> out(n);
                ms_.gen->generate(first.kind_of_prompt, texts, ids, 0, first.gp, out, &hooks);
                std::size_t at = 0;
                for (auto& t : group)
                    for (std::size_t i = 0; i < t->items(); ++i)
                        t->gens.push_back(std::move(out[at++]));
                fill_pieces(group, [](const task& t) {
                    std::vector<std::vector<std::int32_t>> s;
                    for (const auto& g : t.gens) s.push_back(g.ids);
                    return s;
                });
                break;
            }
        }
    }

    /// Token texts (vLLM's decoded_token) of every id the tasks' replies list, from a cache.
    template <class Ids>
    void fill_pieces(std::vector<task_ptr>& group, Ids ids_of) {
        std::vector<std::int32_t> unknown;
        for (auto& t : group) {
            if (!t->want_pieces) continue;
            for (const auto& s : ids_of(*t))
                for (auto id : s)
                    if (!piece_cache_.count(id) &&
                        std::find(unknown.begin(), unknown.end(), id) == unknown.end())
                        unknown.push_back(id);
        }
        if (!unknown.empty()) {
            std::vector<std::vector<std::int32_t>> one;
            for (auto id : unknown) one.push_back({id});
            auto texts = ms_.model->detokenize(one, 0);
            for (std::size_t i = 0; i < unknown.size(); ++i) piece_cache_[unknown[i]] = texts[i];
        }
        for (auto& t : group) {
            if (!t->want_pieces) continue;
            for (const auto& s : ids_of(*t))
                for (auto id : s) t->pieces[id] = piece_cache_[id];
        }
    }

    model_services ms_;
    double window_;
    std::size_t max_batch_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<task_ptr> queue_;
    bool stop_ = false;
    std::unordered_map<std::int32_t, std::string> piece_cache_;
    std::thread thread_;
};

// ---- replies --------------------------------------------------------------------------------

using reply_fn = std::function<void(int status, std::string body)>;
using router = std::function<void(http::request<http::string_body>&, reply_fn)>;

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

}  // namespace

// ---- the server -------------------------------------------------------------------------------

struct server::impl {
    server_options opts;
    std::string name;
    std::size_t max_model_len = 0;
    std::size_t dim = 0;
    bool can_score = false, can_detok = false, can_embed = false, can_tokenize = false;
    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    // After ioc: destroyed (its thread joined, its queued tasks released) while the io_context
    // still exists, because a finished task may hold the last reference to a session, whose
    // socket closes through ioc's services.
    std::unique_ptr<engine> eng;
    std::atomic<std::uint64_t> requests{0}, ids{0};
    std::vector<std::thread> threads;
    router route_fn = [this](http::request<http::string_body>& req, reply_fn reply) {
        route(req, std::move(reply));
    };

    void route(http::request<http::string_body>& req, reply_fn reply);
    void models(reply_fn& reply);
    void tokenize(const json_value& b, reply_fn reply);
    void detokenize(const json_value& b, reply_fn reply);
    void completions(const json_value& b, reply_fn reply);
    void chat(const json_value& b, reply_fn reply);
    void embeddings(const json_value& b, reply_fn reply);
    void check_model(const json_value& b) {
        if (const auto* m = field(b, "model"); m && m->is_string() && m->as_string() != name)
            throw http_error{
                404, "the model '" + m->as_string() + "' does not exist (serving '" + name + "')"};
    }
    std::string next_id(const char* prefix) { return std::string(prefix) + std::to_string(++ids); }
    void accept();
};

namespace {

/// One HTTP connection (keep-alive): read a request, route it, write the reply, repeat.
class session : public std::enable_shared_from_this<session> {
  public:
    session(tcp::socket&& s, const router& r) : stream_(std::move(s)), route_(r) {}
    void start() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
    }

  private:
    void read() {
        parser_.emplace();
        parser_->body_limit(std::uint64_t(256) << 20);
        stream_.expires_after(std::chrono::seconds(600));
        http::async_read(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }
    void on_read(beast::error_code ec) {
        if (ec == http::error::end_of_stream) return close();
        if (ec) return;
        auto req = std::make_shared<http::request<http::string_body>>(parser_->release());
        keep_alive_ = req->keep_alive();
        version_ = req->version();
        auto self = shared_from_this();
        route_(*req, [self, req](int status, std::string body) {
            net::post(self->stream_.get_executor(),
                      [self, status, body = std::move(body)]() mutable {
                          self->write(status, std::move(body));
                      });
        });
    }
    void write(int status, std::string body) {
        res_ = {};
        res_.version(version_);
        res_.result(static_cast<http::status>(status));
        res_.set(http::field::server, "polyglot");
        res_.set(http::field::content_type, "application/json");
        res_.keep_alive(keep_alive_);
        res_.body() = std::move(body);
        res_.prepare_payload();
        http::async_write(stream_, res_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return;
                              if (!self->keep_alive_) return self->close();
                              self->read();
                          });
    }
    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    const router& route_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> res_;
    bool keep_alive_ = true;
    unsigned version_ = 11;
};

/// Compares a presented key with the expected one in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;  // the key's length is not the secret
    unsigned char d = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
    return d == 0;
}

}  // namespace

void server::impl::accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
        if (ec == net::error::operation_aborted) return;
        if (!ec) {
            s.set_option(tcp::no_delay(true), ec);
            std::make_shared<session>(std::move(s), route_fn)->start();
        }
        accept();
    });
}

void server::impl::route(http::request<http::string_body>& req, reply_fn reply) {
    ++requests;
    auto fail = [&](int st, const std::string& msg) { reply(st, error_json(st, msg)); };
    try {
        if (!opts.api_key.empty()) {
            const auto auth = req[http::field::authorization];
            const std::string want = "Bearer " + opts.api_key;
            if (!constant_time_equal(std::string_view(auth.data(), auth.size()), want))
                return fail(401, "a valid API key is required (Authorization: Bearer KEY)");
        }
        const std::string target(req.target());
        const std::string path = target.substr(0, target.find('?'));
        if (req.method() == http::verb::get) {
            if (path == "/v1/models") return models(reply);
            if (path == "/health") return reply(200, "{}");
            return fail(404, "no route GET " + path);
        }
        if (req.method() != http::verb::post) return fail(405, "method not allowed");
        const json_value body = [&] {
            try {
                return analysis::parse_json(req.body(), "request body");
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

void server::impl::models(reply_fn& reply) {
    io::json_writer w;
    w.begin_object();
    w.kv("object", "list");
    w.key("data").begin_array();
    w.begin_object();
    w.kv("id", name);
    w.kv("object", "model");
    w.kv("created", now_unix());
    w.kv("owned_by", "polyglot");
    if (max_model_len) w.kv("max_model_len", max_model_len);
    w.end_object();
    w.end_array();
    w.end_object();
    reply(200, w.take());
}

void server::impl::tokenize(const json_value& b, reply_fn reply) {
    if (!can_tokenize) throw http_error{400, "this model cannot tokenize"};
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
    const std::size_t mml = max_model_len;
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
    eng->submit(std::move(t));
}

void server::impl::detokenize(const json_value& b, reply_fn reply) {
    if (!can_detok) throw http_error{400, "this model cannot detokenize"};
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
    eng->submit(std::move(t));
}

void server::impl::completions(const json_value& b, reply_fn reply) {
    auto prompts = std::make_shared<std::vector<prompt_item>>(parse_prompts(b));
    const generate_params gp = sampling_of(b, false);
    const bool echo = get_bool(b, "echo", false);
    const auto* plp = field(b, "prompt_logprobs");
    const auto* lps = field(b, "logprobs");
    // With echo, prompt log-probs follow `logprobs` when prompt_logprobs is absent (vLLM).
    const bool want_prompt_lp = plp || (echo && lps);
    const bool want_gen_lp = lps != nullptr;
    const bool return_ids = get_bool(b, "return_token_ids", false);
    const bool add_special = gp.add_special;
    if (want_prompt_lp && !can_score) throw http_error{400, "this model cannot score"};
    const std::string model = name;
    const std::string id = next_id("cmpl-");
    engine* e = eng.get();

    struct state {
        std::vector<std::vector<float>> lp;
        std::vector<std::vector<std::uint8_t>> greedy;
        std::unordered_map<std::int32_t, std::string> pieces;
        std::vector<generation> gens;
        std::vector<std::string> echo_text;
    };
    auto st = std::make_shared<state>();

    // The reply, once every stage is done.
    auto finish = [=]() {
        io::json_writer w;
        w.begin_object();
        w.kv("id", id);
        w.kv("object", "text_completion");
        w.kv("created", now_unix());
        w.kv("model", model);
        std::uint64_t prompt_tokens = 0, completion_tokens = 0;
        w.key("choices").begin_array();
        for (std::size_t i = 0; i < prompts->size(); ++i) {
            const auto& p = (*prompts)[i];
            const generation* g = st->gens.empty() ? nullptr : &st->gens[i];
            prompt_tokens += p.ids ? p.tokens.size() : (g ? g->prompt_tokens : 0);
            w.begin_object();
            w.kv("index", i);
            std::string text = echo ? st->echo_text[i] : std::string();
            if (g) text += g->text;
            w.kv("text", text);
            w.key("logprobs");
            if (g && want_gen_lp) {
                w.begin_object();
                w.key("tokens").begin_array();
                for (auto t : g->ids) w.value(st->pieces[t]);
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
                    w.kv("logprob", st->lp[i][k]);
                    // Only the actual token is listed: its rank is known when it is the argmax.
                    if (st->greedy[i][k]) w.kv("rank", 1);
                    w.kv("decoded_token", st->pieces[ids[k]]);
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
        w.end_array();
        w.key("usage").begin_object();
        w.kv("prompt_tokens", prompt_tokens);
        w.kv("completion_tokens", completion_tokens);
        w.kv("total_tokens", prompt_tokens + completion_tokens);
        w.end_object();
        w.end_object();
        reply(200, w.take());
    };
    auto fail = [reply](task& t) { reply(t.status, error_json(t.status, t.error)); };

    // Stage 3: generation (when max_tokens > 0).
    auto generate = [=]() {
        if (gp.max_new_tokens == 0) return finish();
        auto t = std::make_shared<task>();
        t->kind = op::generate;
        t->gp = gp;
        t->gp.logprobs = want_gen_lp;
        t->want_pieces = want_gen_lp;
        const bool all_ids = std::all_of(prompts->begin(), prompts->end(),
                                         [](const prompt_item& p) { return p.ids; });
        t->kind_of_prompt = all_ids ? prompt_kind::ids : prompt_kind::text;
        for (auto& p : *prompts) {
            if (all_ids)
                t->seqs.push_back(p.tokens);
            else if (p.ids)
                throw http_error{400, "mixing text and token-id prompts is not supported"};
            else
                t->texts.push_back(p.text);
        }
        t->done = [=](task& t) {
            if (t.status != 200) return fail(t);
            st->gens = std::move(t.gens);
            for (auto& [k, v] : t.pieces) st->pieces[k] = v;
            finish();
        };
        e->submit(std::move(t));
    };
    // Stage 2: the prompt's text for echo (ids prompts are detokenized), then generation.
    auto echo_stage = [=]() {
        st->echo_text.assign(prompts->size(), {});
        std::vector<std::vector<std::int32_t>> seqs;
        for (std::size_t i = 0; i < prompts->size(); ++i) {
            if ((*prompts)[i].ids)
                seqs.push_back((*prompts)[i].tokens);
            else
                st->echo_text[i] = (*prompts)[i].text;
        }
        if (!echo || seqs.empty()) return generate();
        auto t = std::make_shared<task>();
        t->kind = op::detokenize;
        t->seqs = std::move(seqs);
        t->done = [=](task& t) {
            if (t.status != 200) return fail(t);
            std::size_t k = 0;
            for (std::size_t i = 0; i < prompts->size(); ++i)
                if ((*prompts)[i].ids) st->echo_text[i] = t.out_texts[k++];
            try {
                generate();
            } catch (const http_error& err) {
                reply(err.status, error_json(err.status, err.message));
            }
        };
        e->submit(std::move(t));
    };
    // Stage 1: prompt log-probs (text prompts are tokenized first).
    auto score = [=]() {
        if (!want_prompt_lp) return echo_stage();
        auto t = std::make_shared<task>();
        t->kind = op::score_ids;
        t->want_pieces = true;
        for (auto& p : *prompts) t->seqs.push_back(p.tokens);
        t->done = [=](task& t) {
            if (t.status != 200) return fail(t);
            st->lp = std::move(t.lp);
            st->greedy = std::move(t.greedy);
            st->pieces = std::move(t.pieces);
            try {
                echo_stage();
            } catch (const http_error& err) {
                reply(err.status, error_json(err.status, err.message));
            }
        };
        e->submit(std::move(t));
    };
    const bool need_tokens =
        want_prompt_lp &&
        std::any_of(prompts->begin(), prompts->end(), [](const prompt_item& p) { return !p.ids; });
    if (!need_tokens) return score();
    auto t = std::make_shared<task>();
    t->kind = op::tokenize;
    t->flags = (add_special ? POLYGLOT_TOKENIZE_ADD_SPECIAL : 0u) | POLYGLOT_TOKENIZE_PARSE_SPECIAL;
    for (auto& p : *prompts)
        if (!p.ids) t->texts.push_back(p.text);
    t->done = [=](task& t) {
        if (t.status != 200) return fail(t);
        std::size_t k = 0;
        for (auto& p : *prompts)
            if (!p.ids) p.tokens = std::move(t.ids[k++]);
        score();
    };
    eng->submit(std::move(t));
}

void server::impl::chat(const json_value& b, reply_fn reply) {
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
    const std::string model = name, id = next_id("chatcmpl-");
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
    eng->submit(std::move(t));
}

void server::impl::embeddings(const json_value& b, reply_fn reply) {
    if (!can_embed) throw http_error{400, "this model cannot embed"};
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
    const std::string model = name;
    const std::size_t d = dim;
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
    eng->submit(std::move(t));
}

server::server(server_options opts) : p_(new impl) {
    auto& p = *p_;
    p.opts = std::move(opts);
    if (p.opts.model.empty()) throw argument_error("serve: --model is required");
    model_services ms = open_model_services(p.opts.model, p.opts.backend);
    plugin::model& m = *ms.model;
    p.can_tokenize = m.supports(POLYGLOT_OP_TOKENIZE);
    p.can_detok = m.supports(POLYGLOT_OP_DETOKENIZE);
    p.can_score = m.supports(POLYGLOT_OP_SCORE_IDS);
    p.can_embed = m.supports(POLYGLOT_OP_EMBED);
    if (p.can_embed) p.dim = m.dim();
    try {
        const auto info = analysis::parse_json(m.info_json(), "model info");
        for (const char* key : {"max_context", "max_model_len"})
            if (const auto* v = info.find(key); v && v->is_number() && v->as_number() > 0) {
                p.max_model_len = std::size_t(v->as_number());
                break;
            }
    } catch (const error&) {
    }
    p.name = p.opts.name;
    if (p.name.empty()) {
        if (is_url_spec(p.opts.model)) {
            p.name = split_url_spec(p.opts.model).model;
        } else {
            std::filesystem::path dir(p.opts.model);
            while (!dir.empty() && dir.filename().empty()) dir = dir.parent_path();
            p.name = dir.filename().string();
        }
        if (p.name.empty()) p.name = "model";
    }
    p.eng = std::make_unique<engine>(std::move(ms), p.opts.batch_window_ms, p.opts.max_batch);

    beast::error_code ec;
    const auto addr = net::ip::make_address(p.opts.host, ec);
    if (ec) throw argument_error("serve: --host '" + p.opts.host + "' is not an IP address");
    tcp::endpoint ep(addr, p.opts.port);
    p.acceptor.open(ep.protocol(), ec);
    if (!ec) p.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) p.acceptor.bind(ep, ec);
    if (!ec) p.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw io_error("serve: cannot listen on " + p.opts.host + ":" +
                       std::to_string(p.opts.port) + ": " + ec.message());
}

server::~server() {
    stop();
    for (auto& t : p_->threads)
        if (t.joinable()) t.join();
}

std::uint16_t server::port() const noexcept { return p_->acceptor.local_endpoint().port(); }
const std::string& server::model_name() const noexcept { return p_->name; }
std::string server::url() const {
    std::string host = p_->opts.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "http://" + host + ":" + std::to_string(port()) + "/v1#" + p_->name;
}

server_stats server::stats() const {
    return {p_->requests.load(), p_->eng->calls.load(), p_->eng->items.load()};
}

void server::run(bool handle_signals) {
    auto& p = *p_;
    std::optional<net::signal_set> signals;
    if (handle_signals) {
        signals.emplace(p.ioc, SIGINT, SIGTERM);
        signals->async_wait([this](beast::error_code, int) { stop(); });
    }
    p.accept();
    const std::size_t n = std::max<std::size_t>(1, p.opts.io_threads);
    for (std::size_t i = 1; i < n; ++i) p.threads.emplace_back([&p] { p.ioc.run(); });
    p.ioc.run();
    for (auto& t : p.threads)
        if (t.joinable()) t.join();
    p.threads.clear();
}

void server::stop() {
    net::post(p_->ioc, [this] {
        beast::error_code ec;
        p_->acceptor.close(ec);
    });
    p_->ioc.stop();
}

}  // namespace serve
POLYGLOT_END_NAMESPACE
