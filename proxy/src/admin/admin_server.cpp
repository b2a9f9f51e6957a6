#include "admin/admin_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace tally::proxy {

admin_server::admin_server(net::io_context& ioc, admin_handler handler)
    : ioc_(ioc), acceptor_(ioc), handler_(std::move(handler)) {}

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
}

net::awaitable<void> admin_server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (!acceptor_.is_open()) co_return;
    if (ec) continue;
    net::co_spawn(ioc_, serve(std::move(socket)), net::detached);
  }
}

net::awaitable<void> admin_server::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(max_body_bytes);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset)
      break;
    admin_response res;
    bool keep_alive = false;
    if (ec) {
      admin_request bad;
      bad.version(11);
      res = make_admin_response(bad,
                                ec == http::error::body_limit ? http::status::payload_too_large
                                                              : http::status::bad_request,
                                "malformed request: " + ec.message() + "\n", "text/plain");
    } else {
      const auto& req = parser.get();
      keep_alive = req.keep_alive();
      res = co_await handler_(req);
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !keep_alive) break;
  }
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
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
