// SPDX-License-Identifier: Apache-2.0
// polyglot serve: the Boost.Beast HTTP front end (Beast ships with the Boost headers we already
// depend on, unlike cpp-httplib, whose 0.11 keeps a pool thread per keep-alive connection).
#include "serve/http.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <polyglot/core/error.hpp>
#include <thread>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace serve {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

http_call to_call(http::request<http::string_body>&& req) {
    http_call c;
    c.method = req.method() == http::verb::get    ? http_call::verb::get
               : req.method() == http::verb::post ? http_call::verb::post
                                                  : http_call::verb::other;
    const std::string target(req.target());
    c.path = target.substr(0, target.find('?'));
    const auto auth = req[http::field::authorization];
    c.authorization.assign(auth.data(), auth.size());
    c.body = std::move(req.body());
    return c;
}

/// One HTTP connection (keep-alive): read a request, route it, write the reply, repeat.
class session : public std::enable_shared_from_this<session> {
  public:
    session(tcp::socket&& s, const http_handler& r) : stream_(std::move(s)), route_(r) {}
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
        auto msg = parser_->release();
        keep_alive_ = msg.keep_alive();
        version_ = msg.version();
        auto req = std::make_shared<http_call>(to_call(std::move(msg)));
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
    const http_handler& route_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> res_;
    bool keep_alive_ = true;
    unsigned version_ = 11;
};

}  // namespace

struct http_listener::impl {
    http_handler handler;
    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::vector<std::thread> threads;

    void accept() {
        acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
            if (ec == net::error::operation_aborted) return;
            if (!ec) {
                s.set_option(tcp::no_delay(true), ec);
                std::make_shared<session>(std::move(s), handler)->start();
            }
            accept();
        });
    }
};

http_listener::http_listener(const std::string& host, std::uint16_t port, http_handler handler)
    : p_(new impl) {
    auto& p = *p_;
    p.handler = std::move(handler);
    beast::error_code ec;
    const auto addr = net::ip::make_address(host, ec);
    if (ec) throw argument_error("serve: --host '" + host + "' is not an IP address");
    tcp::endpoint ep(addr, port);
    p.acceptor.open(ep.protocol(), ec);
    if (!ec) p.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) p.acceptor.bind(ep, ec);
    if (!ec) p.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw io_error("serve: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                       ec.message());
}

http_listener::~http_listener() {
    stop();
    join();
}

std::uint16_t http_listener::port() const { return p_->acceptor.local_endpoint().port(); }

void http_listener::run(std::size_t io_threads, bool handle_signals) {
    auto& p = *p_;
    std::optional<net::signal_set> signals;
    if (handle_signals) {
        signals.emplace(p.ioc, SIGINT, SIGTERM);
        signals->async_wait([this](beast::error_code, int) { stop(); });
    }
    p.accept();
    const std::size_t n = std::max<std::size_t>(1, io_threads);
    for (std::size_t i = 1; i < n; ++i) p.threads.emplace_back([&p] { p.ioc.run(); });
    p.ioc.run();
    join();
}

void http_listener::stop() {
    net::post(p_->ioc, [this] {
        beast::error_code ec;
        p_->acceptor.close(ec);
    });
    p_->ioc.stop();
}

void http_listener::join() {
    for (auto& t : p_->threads)
        if (t.joinable()) t.join();
    p_->threads.clear();
}

}  // namespace serve
POLYGLOT_END_NAMESPACE
