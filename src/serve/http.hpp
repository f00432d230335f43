// SPDX-License-Identifier: Apache-2.0
// polyglot serve, internal: the HTTP front end. Boost.Beast, asynchronous: a few I/O threads hold
// any number of keep-alive connections; each request is handed to one handler with a callback
// that may be called later, from any thread. Beast stays out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <polyglot/version.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace serve {

/// What the routes see of an HTTP request.
struct http_call {
    enum class verb { get, post, other };
    verb method = verb::other;
    std::string path;           ///< the target without its query
    std::string authorization;  ///< the Authorization header ("" when absent)
    std::string body;
};
/// Sends the reply (a JSON body); thread-safe, called once per request.
using reply_fn = std::function<void(int status, std::string body)>;
using http_handler = std::function<void(http_call&, reply_fn)>;

class http_listener {
  public:
    /// Binds and listens on host:port. Throws argument_error (host not an IP address) or
    /// io_error (address in use, ...).
    http_listener(const std::string& host, std::uint16_t port, http_handler handler);
    ~http_listener();
    http_listener(const http_listener&) = delete;
    http_listener& operator=(const http_listener&) = delete;

    [[nodiscard]] std::uint16_t port() const;
    /// Serves on @p io_threads threads (this one included) until stop() (or SIGINT / SIGTERM
    /// when @p handle_signals). Blocks.
    void run(std::size_t io_threads, bool handle_signals);
    /// Thread-safe.
    void stop();
    /// Joins the I/O threads run() started (after stop()).
    void join();

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

}  // namespace serve
POLYGLOT_END_NAMESPACE
