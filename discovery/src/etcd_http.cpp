#include "etcd_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "tally/common/use_tuple.hpp"

namespace tally::discovery::detail {

namespace {

using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// A range of 1,000 keys is well under a megabyte; this bounds a misbehaving server.
constexpr std::uint64_t max_body_bytes = 64ull * 1024 * 1024;

std::string describe(std::string_view step, const config::host_port& endpoint,
                     const error_code& ec) {
  if (ec == beast::error::timeout)
    return "etcd " + endpoint.text + ": " + std::string(step) + " timed out";
  return "etcd " + endpoint.text + ": " + std::string(step) + ": " + ec.message();
}

net::awaitable<std::string> connect(beast::tcp_stream& stream, const config::host_port& endpoint) {
  error_code ec;
  auto ip = net::ip::make_address(endpoint.host, ec);
  if (!ec) {
    auto [cec] = co_await stream.async_connect(tcp::endpoint(ip, endpoint.port), use_tuple);
    co_return cec ? describe("connect", endpoint, cec) : std::string();
  }
  tcp::resolver resolver(stream.get_executor());
  auto [rec, results] =
      co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), use_tuple);
  if (rec) co_return describe("resolve", endpoint, rec);
  auto [cec, ep] = co_await stream.async_connect(results, use_tuple);
  co_return cec ? describe("connect", endpoint, cec) : std::string();
}

http::request<http::string_body> make_request(const config::host_port& endpoint,
                                              std::string_view path, std::string body,
                                              const std::string& token) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, endpoint.text);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "tally-discovery");
  if (!token.empty()) req.set(http::field::authorization, token);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

}  // namespace

net::awaitable<post_result> post_json(beast::tcp_stream& stream, const config::host_port& endpoint,
                                      std::string path, std::string body, std::string token,
                                      std::chrono::milliseconds timeout) {
  stream.expires_after(timeout);
  if (auto err = co_await connect(stream, endpoint); !err.empty()) co_return post_result{err, {}};
  auto req = make_request(endpoint, std::move(path), std::move(body), token);
  if (auto [ec, n] = co_await http::async_write(stream, req, use_tuple); ec)
    co_return post_result{describe("write", endpoint, ec), {}};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple); ec)
    co_return post_result{describe("read", endpoint, ec), {}};
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
  auto& res = parser.get();
  if (res.result() != http::status::ok)
    co_return post_result{"etcd " + endpoint.text + " answered " +
                              std::to_string(res.result_int()) + ": " + res.body().substr(0, 200),
                          {}};
  co_return post_result{{}, std::move(res.body())};
}

net::awaitable<std::string> open_stream(beast::tcp_stream& stream,
                                        const config::host_port& endpoint, std::string path,
                                        std::string body, std::string token,
                                        std::chrono::milliseconds timeout,
                                        beast::flat_buffer& buffer,
                                        http::response_parser<http::buffer_body>& parser) {
  stream.expires_after(timeout);
  if (auto err = co_await connect(stream, endpoint); !err.empty()) co_return err;
  // A watch can sit idle for minutes; keepalive lets the kernel notice a vanished peer.
  error_code ignored;
  stream.socket().set_option(net::socket_base::keep_alive(true), ignored);
  auto req = make_request(endpoint, std::move(path), std::move(body), token);
  if (auto [ec, n] = co_await http::async_write(stream, req, use_tuple); ec)
    co_return describe("write", endpoint, ec);
  parser.body_limit(boost::none);  // the stream is endless by design
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple); ec)
    co_return describe("read", endpoint, ec);
  if (parser.get().result() != http::status::ok)
    co_return "etcd " + endpoint.text + " answered " + std::to_string(parser.get().result_int()) +
        " to the watch";
  co_return std::string();
}

}  // namespace tally::discovery::detail
