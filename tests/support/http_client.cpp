#include "support/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cctype>

#include "tally/common/use_tuple.hpp"

namespace tally::test {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// Slack on top of the stream's own deadline before the io_context is abandoned; the stream
// timer should always fire first.
constexpr auto run_slack = 1s;

tcp::endpoint loopback(std::uint16_t port) {
  return {net::ip::address_v4::loopback(), port};
}

std::string describe(std::string_view step, const boost::system::error_code& ec) {
  return std::string(step) + ": " + (ec == beast::error::timeout ? "timeout" : ec.message());
}

// Everything one request/response exchange touches; lives on request()'s stack, which
// outlives both coroutines because request() runs the io_context until they are done.
struct exchange {
  beast::tcp_stream& stream;
  beast::flat_buffer& buffer;
  http::request<http::string_body>& request;
  http_result& result;
  bool connect = false;
  std::uint16_t port = 0;
  bool write_done = false;
  boost::system::error_code write_error;
  bool read_ok = false;
  bool keep_alive = false;
};

net::awaitable<void> write_request(exchange& x) {
  auto [ec, n] = co_await http::async_write(x.stream, x.request, use_tuple);
  x.write_error = ec;
  x.write_done = true;
}

net::awaitable<void> read_response(exchange& x) {
  for (;;) {
    http::response_parser<http::string_body> parser;
    parser.header_limit(1024 * 1024);
    parser.body_limit(boost::none);
    if (x.request.method() == http::verb::head) parser.skip(true);
    auto [ec, n] = co_await http::async_read(x.stream, x.buffer, parser, use_tuple);
    if (ec) {
      x.result.error = describe("read", ec);
      if (x.write_error) x.result.error += " (" + describe("write", x.write_error) + ")";
      co_return;
    }
    auto& res = parser.get();
    // Interim answers (100 Continue) precede the real one.
    if (res.result_int() / 100 == 1 && res.result() != http::status::switching_protocols) continue;
    x.result.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      auto [it, inserted] =
          x.result.headers.try_emplace(std::string(field.name_string()), field.value());
      if (!inserted) it->second.append(", ").append(field.value());
    }
    x.result.body = std::move(res.body());
    x.keep_alive = res.keep_alive();
    x.read_ok = true;
    co_return;
  }
}

net::awaitable<void> run_exchange(exchange& x) {
  if (x.connect) {
    auto [ec] = co_await x.stream.async_connect(loopback(x.port), use_tuple);
    if (ec) {
      x.result.error = describe("connect", ec);
      co_return;
    }
  }
  // Writing and reading at once: a server may answer (413, 400) and close before it has taken
  // the whole body, and that answer must not be lost behind a failed write.
  net::co_spawn(x.stream.get_executor(), write_request(x), net::detached);
  co_await read_response(x);
  // A write still pending means the server answered early: the connection cannot be reused.
  if (!x.read_ok || !x.keep_alive || !x.write_done) x.stream.close();
}

// Runs `ioc` until its work is done; past the deadline, `abort` closes the stream so every
// pending operation completes (aborted) and the final run() returns promptly.
template <class Abort>
void run_bounded(net::io_context& ioc, std::chrono::milliseconds limit, Abort abort) {
  ioc.run_for(limit + run_slack);
  if (!ioc.stopped()) {
    abort();
    ioc.restart();
    ioc.run();
  }
  ioc.restart();
}

net::awaitable<void> raw_write(beast::tcp_stream& stream, std::string_view bytes) {
  co_await net::async_write(stream, net::buffer(bytes.data(), bytes.size()), use_tuple);
}

net::awaitable<void> raw_run(beast::tcp_stream& stream, std::uint16_t port, std::string_view bytes,
                             std::string& received) {
  auto [ec] = co_await stream.async_connect(loopback(port), use_tuple);
  if (ec) co_return;
  net::co_spawn(stream.get_executor(), raw_write(stream, bytes), net::detached);
  char piece[16 * 1024];
  for (;;) {
    auto [read_ec, n] = co_await stream.async_read_some(net::buffer(piece), use_tuple);
    received.append(piece, n);
    if (read_ec) break;  // end of stream, reset or the deadline
  }
  stream.close();
}

}  // namespace

bool case_insensitive_less::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) <
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string http_result::header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

http_connection::http_connection(std::uint16_t port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {}

http_connection::~http_connection() {
  close();
}

void http_connection::close() {
  if (stream_) stream_->close();
  stream_.reset();
  buffer_.clear();
}

http_result http_connection::request(std::string method, std::string target, header_list headers,
                                     std::string body) {
  http::request<http::string_body> req;
  req.version(version_);
  const auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown)
    req.method_string(method);
  else
    req.method(verb);
  req.target(target);

  bool has_host = false;
  bool framed = false;
  for (auto& [name, value] : headers) {
    has_host = has_host || beast::iequals(name, "host");
    framed = framed || beast::iequals(name, "content-length") ||
             beast::iequals(name, "transfer-encoding");
    req.insert(name, value);
  }
  if (!has_host) req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
  req.body() = std::move(body);
  if (!framed && (!req.body().empty() || verb == http::verb::post || verb == http::verb::put ||
                  verb == http::verb::patch))
    req.content_length(req.body().size());

  http_result result;
  const bool connect = !stream_;
  if (connect) {
    stream_.emplace(ioc_);
    buffer_.clear();
    // Beast reads as much as the buffer's spare capacity; without room, large bodies would
    // arrive 512 bytes per system call.
    buffer_.reserve(64 * 1024);
  }
  // One deadline for the whole exchange (the stream applies it to every read and write).
  stream_->expires_after(timeout_);
  exchange x{*stream_, buffer_, req, result, connect, port_};
  net::co_spawn(ioc_, run_exchange(x), net::detached);
  run_bounded(ioc_, timeout_, [&] { stream_->close(); });

  if (!x.read_ok || !x.keep_alive || !x.write_done || !stream_->socket().is_open()) {
    result.closed = true;
    close();
  }
  return result;
}

http_result http_get(std::uint16_t port, std::string target, header_list headers,
                     std::chrono::milliseconds timeout) {
  http_connection connection(port, timeout);
  return connection.request("GET", std::move(target), std::move(headers));
}

http_result http_request(std::uint16_t port, std::string method, std::string target,
                         header_list headers, std::string body, std::chrono::milliseconds timeout) {
  http_connection connection(port, timeout);
  return connection.request(std::move(method), std::move(target), std::move(headers),
                            std::move(body));
}

std::string raw_exchange(std::uint16_t port, std::string_view bytes,
                         std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  std::string received;
  stream.expires_after(timeout);
  net::co_spawn(ioc, raw_run(stream, port, bytes, received), net::detached);
  run_bounded(ioc, timeout, [&] { stream.close(); });
  return received;
}

}  // namespace tally::test
