#include "admin/admin_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <boost/asio/ssl/stream.hpp>

#include "http/field_scan.hpp"
#include "listener/accept_backoff.hpp"
#include "tally/proxy/log.hpp"
#include "tally/tls/server_tls.hpp"
#include "tally/tls/tls_settings.hpp"

namespace tally::proxy {

namespace {

constexpr std::chrono::seconds io_timeout{30};  // a body read or a response write

// One admin connection in the server's count, on every path out of serve().
class connection_slot {
 public:
  explicit connection_slot(std::shared_ptr<std::size_t> active) : active_(std::move(active)) {}
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  ~connection_slot() { --*active_; }

 private:
  std::shared_ptr<std::size_t> active_;
};

bool client_gone(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::ssl::error::stream_truncated ||
         ec == beast::error::timeout || ec == net::error::eof || ec == net::error::connection_reset;
}

admin_response malformed(const error_code& ec) {
  admin_request bad;
  bad.version(11);
  return make_admin_response(
      bad,
      ec == http::error::body_limit ? http::status::payload_too_large : http::status::bad_request,
      "malformed request: " + ec.message() + "\n", "text/plain");
}

}  // namespace

admin_server::admin_server(net::io_context& ioc, admin_handler handler,
                           admin_server_options options)
    : ioc_(ioc),
      acceptor_(ioc),
      handler_(std::move(handler)),
      options_(std::move(options)),
      accept_pause_(ioc) {}

void admin_server::listen(const tcp::endpoint& ep) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void admin_server::start() {
  net::co_spawn(ioc_, accept_loop(), net::detached);
}

void admin_server::stop() {
  error_code ec;
  acceptor_.close(ec);
  accept_pause_.cancel();
}

std::chrono::milliseconds admin_server::header_timeout() const {
  return options_.header_timeout ? options_.header_timeout() : std::chrono::seconds(10);
}

net::awaitable<void> admin_server::accept_loop() {
  accept_backoff backoff;
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (!acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors the next accept fails at once: pause rather than spin.
      co_await pause_after_accept_error(ec, "admin", options_.registry, backoff, accept_pause_);
      if (!acceptor_.is_open()) co_return;
      continue;
    }
    backoff.reset();
    if (*active_ >= max_connections) {
      socket.close(ec);  // over the cap: refuse at once, hold nothing
      continue;
    }
    ++*active_;
    net::co_spawn(ioc_, serve(std::move(socket)), net::detached);
  }
}

net::awaitable<void> admin_server::serve(tcp::socket socket) {
  connection_slot slot(active_);
  beast::tcp_stream stream(std::move(socket));
  auto tls = options_.tls ? options_.tls() : nullptr;
  if (!tls) {
    co_await serve_requests(stream);
  } else {
    net::ssl::stream<beast::tcp_stream&> secure(stream, tls->context());
    stream.expires_after(header_timeout());
    auto [ec] = co_await secure.async_handshake(net::ssl::stream_base::server, use_tuple);
    tls->count_handshake(!ec);
    if (ec) {
      log_debug("admin: tls handshake failed: " + tls::describe_tls_error(ec));
    } else {
      co_await serve_requests(secure);
      stream.expires_after(std::chrono::seconds(1));
      co_await secure.async_shutdown(use_tuple);  // close_notify: the response was not cut off
    }
  }
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

template <class Stream>
net::awaitable<void> admin_server::serve_requests(Stream& stream) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    // Content-Length is judged below, after the token: a 401 must not depend on the body.
    parser.body_limit(boost::none);
    tcp_layer.expires_after(header_timeout());
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (client_gone(ec)) break;
    admin_response res;
    bool keep_alive = false;
    if (ec) {
      res = malformed(ec);
    } else if (auto refused =
                   options_.refuse_early ? options_.refuse_early(parser.get()) : std::nullopt) {
      res = std::move(*refused);  // the body stays unread: the connection closes
    } else if (parser.content_length() && *parser.content_length() > max_body_bytes) {
      res = malformed(http::error::body_limit);
    } else {
      parser.body_limit(max_body_bytes);  // a chunked body is cut off here
      if (!parser.is_done()) {
        tcp_layer.expires_after(io_timeout);
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (client_gone(bec)) break;
        if (bec) res = malformed(bec);
      }
      if (parser.is_done()) {
        const auto& req = parser.get();
        keep_alive = field_scan::keep_alive(req.base());  // every Connection field counts
        res = co_await handler_(req);
      }
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    tcp_layer.expires_after(io_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !keep_alive) break;
  }
}

admin_response make_admin_response(const admin_request& req, http::status status, std::string body,
                                   std::string_view content_type) {
  admin_response res{status, req.version() ? req.version() : 11};
  res.set(http::field::server, "tally");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

}  // namespace tally::proxy
