#include "votes_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "tally/cluster/peer_auth.hpp"
#include "tally/common/use_tuple.hpp"

namespace tally::cluster::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {}

votes_server::votes_server(net::io_context& ioc, std::string token)
    : ioc_(ioc),
      acceptor_(ioc, {net::ip::address_v4::loopback(), 0}),
      port_(acceptor_.local_endpoint().port()),
      token_(std::move(token)) {}

void votes_server::start() {
  net::co_spawn(ioc_, accept_loop(), net::detached);
}

void votes_server::stop() {
  net::post(ioc_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
}

net::awaitable<void> votes_server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (!acceptor_.is_open()) co_return;
    if (ec) continue;
    net::co_spawn(ioc_, serve(std::move(socket)), net::detached);
  }
}

net::awaitable<void> votes_server::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    stream.expires_after(std::chrono::seconds(10));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec || !acceptor_.is_open()) break;
    const auto& req = parser.get();
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    if (req.method() != http::verb::post || req.target() != "/cluster/votes") {
      res.result(http::status::not_found);
    } else if (!token_.empty() && req[http::field::authorization] != "Bearer " + token_) {
      ++unauthorized;
      res.result(http::status::unauthorized);
    } else {
      // What the admin server must do too: hand the signature header to the node.
      auto reply = node_->handle_votes(req.body(), req[signature_header]);
      res.result(reply.status);
      res.body() = std::move(reply.body);
      ++served;
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(10));
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace tally::cluster::test
