// SPDX-License-Identifier: Apache-2.0
/// @file `polyglot serve`: the OpenAI-compatible subset that the remote backend speaks, over
/// our own engines, so that one GPU host can serve a scorer, an embedder or a judge to many
/// clients. Routes (vLLM's shapes, shared/docs/generation.md §2):
///   GET  /v1/models              the served model ({"owned_by": "polyglot", "max_model_len"})
///   POST /tokenize               {prompt, add_special_tokens, parse_special} → {tokens, count,
///                                max_model_len}
///   POST /detokenize             {tokens, skip_special_tokens} → {prompt}
///   POST /v1/completions         text or token-id prompts; echo + prompt_logprobs (per position
///                                a map {"<id>": {logprob, rank, decoded_token}}, null first);
///                                generation with vLLM's sampling parameters
///   POST /v1/chat/completions    messages (rendered by the generator service)
///   POST /v1/embeddings          {input, encoding_format: float | base64}
/// Concurrent requests are batched into the engine: a single engine thread takes every queued
/// request of the same operation (up to max_batch sequences; greedy generations with equal
/// parameters together) into one backend call. Sampled generations run one request per call,
/// so a request's output never depends on what else was queued.
/// HTTP is Boost.Beast (asynchronous: a few I/O threads hold any number of keep-alive
/// connections; Beast ships with the Boost headers we already depend on, unlike
/// cpp-httplib, whose 0.11 keeps a pool thread per keep-alive connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <polyglot/plugin/services.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace serve {

struct server_options {
    std::string model;        ///< model spec (directory or URL#MODEL)
    std::string name;         ///< served model name; "" = the directory's (or URL model's) name
    backend_options backend;  ///< --backend, --max-tokens, ...
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;  ///< 0 = any free port (see server::port())
    std::string api_key;        ///< "" = no authentication; else every request needs the bearer
    std::size_t io_threads = 2;
    double batch_window_ms = 1;   ///< an idle engine waits this long for more requests
    std::size_t max_batch = 256;  ///< sequences per engine call
};

/// Counters over the server's life.
struct server_stats {
    std::uint64_t requests = 0;      ///< HTTP requests answered
    std::uint64_t engine_calls = 0;  ///< backend calls made
    std::uint64_t engine_items = 0;  ///< sequences / texts those calls carried
};

class server {
  public:
    /// Opens the model and binds the listening socket. Throws polyglot::error (model, plugin)
    /// or io_error (address in use, ...).
    explicit server(server_options opts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept;
    [[nodiscard]] const std::string& model_name() const noexcept;
    /// "http://HOST:PORT/v1#NAME": what clients pass as --lm / --embedder.
    [[nodiscard]] std::string url() const;
    [[nodiscard]] server_stats stats() const;

    /// Serves until stop() (or SIGINT / SIGTERM when @p handle_signals). Blocks.
    void run(bool handle_signals = false);
    /// Thread-safe.
    void stop();

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

}  // namespace serve
POLYGLOT_END_NAMESPACE
