// SPDX-License-Identifier: Apache-2.0
// polyglot serve: opens the model and wires the pieces together: the HTTP front end
// (serve/http.cpp), the engine thread that batches concurrent requests into backend calls
// (serve/engine.cpp) and the OpenAI-compatible routes (serve/routes.cpp, vLLM's shapes).
#include <filesystem>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <polyglot/serve/server.hpp>

#include "serve/engine.hpp"
#include "serve/http.hpp"
#include "serve/routes.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace serve {
namespace {

/// What the routes need to know of the model: its name, context and operations.
served_model describe(const server_options& opts, plugin::model& m) {
    served_model s;
    s.can_tokenize = m.supports(POLYGLOT_OP_TOKENIZE);
    s.can_detok = m.supports(POLYGLOT_OP_DETOKENIZE);
    s.can_score = m.supports(POLYGLOT_OP_SCORE_IDS);
    s.can_embed = m.supports(POLYGLOT_OP_EMBED);
    if (s.can_embed) s.dim = m.dim();
    try {
        const auto info = analysis::parse_json(m.info_json(), "model info");
        for (const char* key : {"max_context", "max_model_len"})
            if (const auto* v = info.find(key); v && v->is_number() && v->as_number() > 0) {
                s.max_model_len = std::size_t(v->as_number());
                break;
            }
    } catch (const error&) {
    }
    s.name = opts.name;
    if (s.name.empty()) {
        if (is_url_spec(opts.model)) {
            s.name = split_url_spec(opts.model).model;
        } else {
            std::filesystem::path dir(opts.model);
            while (!dir.empty() && dir.filename().empty()) dir = dir.parent_path();
            s.name = dir.filename().string();
        }
        if (s.name.empty()) s.name = "model";
    }
    return s;
}

}  // namespace

struct server::impl {
    server_options opts;
    std::string name;
    // The listener before the engine: the engine is destroyed (its thread joined, its queued
    // tasks released) while the listener's io_context still exists, because a finished task may
    // hold the last reference to a session, whose socket closes through that io_context.
    std::unique_ptr<http_listener> http;
    std::unique_ptr<routes> api;
    std::unique_ptr<engine> eng;
};

server::server(server_options opts) : p_(new impl) {
    auto& p = *p_;
    p.opts = std::move(opts);
    if (p.opts.model.empty()) throw argument_error("serve: --model is required");
    model_services ms = open_model_services(p.opts.model, p.opts.backend);
    served_model sm = describe(p.opts, *ms.model);
    p.name = sm.name;
    p.eng = std::make_unique<engine>(std::move(ms), p.opts.batch_window_ms, p.opts.max_batch);
    p.api = std::make_unique<routes>(std::move(sm), p.opts.api_key, *p.eng);
    routes* api = p.api.get();
    p.http = std::make_unique<http_listener>(
        p.opts.host, p.opts.port,
        [api](http_call& req, reply_fn reply) { api->route(req, std::move(reply)); });
}

server::~server() {
    if (p_->http) {
        p_->http->stop();
        p_->http->join();
    }
}

std::uint16_t server::port() const noexcept { return p_->http->port(); }
const std::string& server::model_name() const noexcept { return p_->name; }
std::string server::url() const {
    std::string host = p_->opts.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "http://" + host + ":" + std::to_string(port()) + "/v1#" + p_->name;
}

server_stats server::stats() const {
    return {p_->api->requests(), p_->eng->calls.load(), p_->eng->items.load()};
}

void server::run(bool handle_signals) { p_->http->run(p_->opts.io_threads, handle_signals); }

void server::stop() { p_->http->stop(); }

}  // namespace serve
POLYGLOT_END_NAMESPACE
