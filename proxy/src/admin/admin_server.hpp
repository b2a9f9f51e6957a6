// The admin listener: a small HTTP/1.1 server on the control loop for /healthz, /readyz,
// /status, /metrics and the admin and cluster endpoints. Requests are small and bounded
// (header and body limits, timeouts on every read and write); the handler is a coroutine so it
// can wait for work done off the loop (a reload reads files) without blocking it.
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/net_types.hpp"

namespace tally::proxy {

using admin_request = http::request<http::string_body>;
using admin_response = http::response<http::string_body>;
using admin_handler = std::function<net::awaitable<admin_response>(const admin_request&)>;

class admin_server {
 public:
  static constexpr std::size_t max_body_bytes = 1024 * 1024;

  admin_server(net::io_context& ioc, admin_handler handler);
  void listen(const tcp::endpoint& ep);  // throws on failure (start-up)
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();  // closes the listener; open admin connections finish their request

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(tcp::socket socket);

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  admin_handler handler_;
};

// A response with a body and the headers every admin answer carries.
admin_response make_admin_response(const admin_request& req, http::status status, std::string body,
                                   std::string_view content_type);

}  // namespace tally::proxy
