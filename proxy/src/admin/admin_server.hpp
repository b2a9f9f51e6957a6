// The admin listener: a small HTTP/1.1 server on the control loop for /healthz, /readyz,
// /status, /metrics and the admin and cluster endpoints. Requests are small and bounded: at most
// max_connections at once (more are closed at accept), the header within a deadline, the
// token checked on the header before any body is read, bodies capped, timeouts on every read
// and write. The handler is a coroutine so it can wait for work done off the loop (a reload
// reads files) without blocking it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/net_types.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

class metrics;

using admin_request = http::request<http::string_body>;
using admin_response = http::response<http::string_body>;
using admin_handler = std::function<net::awaitable<admin_response>(const admin_request&)>;

struct admin_server_options {
  // Sees the request header (empty body) before the body is read; a response returned is sent
  // instead and the connection closed, the body unread (401 without the token).
  std::function<std::optional<admin_response>(const admin_request&)> refuse_early;
  // The deadline for a request header (timeouts.request_header); read at each request.
  std::function<std::chrono::milliseconds()> header_timeout;
  metrics* registry = nullptr;  // counts accept errors; may be null
  // The admin listener's TLS for a new connection (admin.tls, from the current snapshot, so a
  // reload applies); null or returning null: plain HTTP.
  std::function<std::shared_ptr<tls::server_tls>()> tls;
};

class admin_server {
 public:
  static constexpr std::size_t max_body_bytes = std::size_t{64} * 1024;
  // Connections served at once; a flood beyond it is closed at accept instead of holding
  // descriptors the proxy and the health checks need.
  static constexpr std::size_t max_connections = 64;

  admin_server(net::io_context& ioc, admin_handler handler, admin_server_options options = {});
  void listen(const tcp::endpoint& ep);  // throws on failure (start-up)
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();  // closes the listener; open admin connections finish their request

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(tcp::socket socket);
  // The requests of one connection, plain or TLS.
  template <class Stream>
  net::awaitable<void> serve_requests(Stream& stream);
  std::chrono::milliseconds header_timeout() const;

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  admin_handler handler_;
  admin_server_options options_;
  net::steady_timer accept_pause_;
  // Shared with the connections' coroutines, which may end after the server is gone.
  std::shared_ptr<std::size_t> active_ = std::make_shared<std::size_t>(0);
};

// A response with a body and the headers every admin answer carries.
admin_response make_admin_response(const admin_request& req, http::status status, std::string body,
                                   std::string_view content_type);

}  // namespace tally::proxy
