// SPDX-License-Identifier: Apache-2.0
// polyglot serve, internal: the OpenAI-compatible routes (vLLM's shapes). Each route parses its
// request (serve/request.hpp), queues tasks on the engine and writes the reply when they are done.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "serve/http.hpp"
#include "serve/request.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace serve {

class engine;

/// What the routes know of the served model.
struct served_model {
    std::string name;
    std::size_t max_model_len = 0;
    std::size_t dim = 0;
    bool can_score = false, can_detok = false, can_embed = false, can_tokenize = false;
};

class routes {
  public:
    routes(served_model model, std::string api_key, engine& eng)
        : model_(std::move(model)), api_key_(std::move(api_key)), eng_(&eng) {}

    /// Answers one request (now, or later from the engine thread).
    void route(http_call& req, reply_fn reply);
    [[nodiscard]] std::uint64_t requests() const noexcept { return requests_.load(); }

  private:
    void models(reply_fn& reply);
    void tokenize(const json_value& b, reply_fn reply);
    void detokenize(const json_value& b, reply_fn reply);
    void completions(const json_value& b, reply_fn reply);
    void chat(const json_value& b, reply_fn reply);
    void embeddings(const json_value& b, reply_fn reply);
    void check_model(const json_value& b) const;
    std::string next_id(const char* prefix) { return std::string(prefix) + std::to_string(++ids_); }

    served_model model_;
    std::string api_key_;
    engine* eng_;
    std::atomic<std::uint64_t> requests_{0}, ids_{0};
};

}  // namespace serve
POLYGLOT_END_NAMESPACE
