// A small synchronous HTTP/1.1 client for tests. Every call is bounded by a hard deadline, so a
// hung proxy fails a test instead of hanging the suite.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tally::test {

using namespace std::chrono_literals;
using header_list = std::vector<std::pair<std::string, std::string>>;

// Header names compare case-insensitively, as HTTP says they do.
struct case_insensitive_less {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

struct http_result {
  int status = 0;  // 0 when no response arrived; see `error`
  // Repeated headers are joined with ", ".
  std::map<std::string, std::string, case_insensitive_less> headers;
  std::string body;
  // The connection is over: the response said so (Connection: close, HTTP/1.0), the server
  // answered before taking the whole request body, or the exchange failed.
  bool closed = false;
  std::string error;  // empty on success, else "connect: ...", "read: ...", ...

  bool ok() const { return error.empty(); }
  // The header's value, or "" when absent.
  std::string header(std::string_view name) const;
};

// One keep-alive connection to 127.0.0.1:port, opened on first use and re-opened by the next
// request after it closed. Requests are sent one at a time; the response is read while the
// request body is still being written, so an early answer (413, 400) is never lost.
class http_connection {
 public:
  explicit http_connection(std::uint16_t port, std::chrono::milliseconds timeout = 10s);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // Sends one request. Host defaults to 127.0.0.1:port; Content-Length is added for a body
  // unless `headers` already frame it (Content-Length, or Transfer-Encoding: chunked, in which
  // case the body is sent chunked). `timeout` bounds the whole exchange.
  http_result request(std::string method, std::string target, header_list headers = {},
                      std::string body = {});

  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  // 11 (default) or 10; the request line's HTTP version.
  void set_http_version(unsigned version) { version_ = version; }
  bool is_open() const { return stream_.has_value(); }
  void close();

 private:
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  unsigned version_ = 11;
  boost::asio::io_context ioc_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

// One request on a fresh connection.
http_result http_get(std::uint16_t port, std::string target, header_list headers = {},
                     std::chrono::milliseconds timeout = 10s);
http_result http_request(std::uint16_t port, std::string method, std::string target,
                         header_list headers = {}, std::string body = {},
                         std::chrono::milliseconds timeout = 10s);

// Connects, sends `bytes` verbatim and returns everything received until the peer closes or
// `timeout` passes (for malformed-request tests). Empty if the connection failed.
std::string raw_exchange(std::uint16_t port, std::string_view bytes,
                         std::chrono::milliseconds timeout = 5s);

}  // namespace tally::test
