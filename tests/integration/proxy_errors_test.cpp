// What tally answers itself: smuggling attempts, limits, timeouts, dead backends.
#include <doctest/doctest.h>

#include <boost/asio/ip/tcp.hpp>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/proxy_fixture.hpp"

using namespace tally::test;

namespace {

std::string status_line(const std::string& raw) {
  return raw.substr(0, raw.find("\r\n"));
}

}  // namespace

TEST_CASE("request smuggling attempts get 400 - a closed connection - and never reach a backend") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}));
  const char* cases[][2] = {
      {"Content-Length with Transfer-Encoding",
       "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding with Content-Length",
       "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
       "5\r\n\r\n0\r\n\r\n"},
      {"conflicting Content-Length",
       "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
      {"Content-Length list",
       "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!"},
      {"Transfer-Encoding not chunked",
       "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"},
      {"chunked not last",
       "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
      {"chunked twice",
       "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding in HTTP/1.0",
       "POST /sink HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"bad chunk size",
       "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
       "chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
      {"chunk longer than declared",
       "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
       "chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n"},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n"},
      {"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-Bad : value\r\n\r\n"},
      {"control character in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\x01z\r\n\r\n"},
      {"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n"},
      {"bare LF line endings", "GET / HTTP/1.1\nHost: a\n\n"},
      {"negative Content-Length", "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c[0]);
    auto raw = raw_exchange(proxy.port(), c[1]);
    CHECK(status_line(raw) == "HTTP/1.1 400 Bad Request");
    CHECK(raw.find("request id") != std::string::npos);
  }
  CHECK(backends.backend(0).stats().requests.load() == 0);
  CHECK(backends.backend(0).stats().connections.load() == 0);
}

TEST_CASE("431 when the header block is over limits.max_header_bytes") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}},
                                 "limits: { max_header_bytes: 4KiB }\n"));
  auto raw = raw_exchange(
      proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
  CHECK(status_line(raw) == "HTTP/1.1 431 Request Header Fields Too Large");
  CHECK(backends.backend(0).stats().requests.load() == 0);
}

TEST_CASE("413 on a declared or chunked body over limits.max_body_bytes") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}},
                                 "limits: { max_body_bytes: 100 }\n"));
  // Declared: answered from the header alone, before any body byte is read.
  auto declared =
      raw_exchange(proxy.port(), "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n");
  CHECK(status_line(declared) == "HTTP/1.1 413 Content Too Large");
  // Chunked: answered when the body crosses the limit.
  auto chunked = raw_exchange(proxy.port(),
                              "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "50\r\n" +
                                  std::string(80, 'x') + "\r\n50\r\n" + std::string(80, 'x') +
                                  "\r\n0\r\n\r\n");
  CHECK(status_line(chunked) == "HTTP/1.1 413 Content Too Large");
  // At the limit is fine.
  auto ok = raw_exchange(proxy.port(),
                         "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n"
                         "Connection: close\r\n\r\n" +
                             std::string(100, 'y'));
  CHECK(status_line(ok) == "HTTP/1.1 200 OK");
  CHECK(backends.backend(0).stats().requests.load() == 1);
}

TEST_CASE("408 when the header block does not arrive within timeouts.request_header") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}},
                                 "timeouts: { request_header: 300ms }\n"));
  // Half a header, then silence: the deadline covers the whole block.
  auto raw = raw_exchange(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n", std::chrono::seconds(5));
  CHECK(status_line(raw) == "HTTP/1.1 408 Request Timeout");
  CHECK(backends.backend(0).stats().requests.load() == 0);
}

TEST_CASE("502 when no backend accepts connections") {
  proxy_fixture proxy(proxy_yaml({{"web",
                                   "round_robin",
                                   {"127.0.0.1:" + std::to_string(unused_port())},
                                   {},
                                   "    retry: { attempts: 1, backoff: 0ms }\n"}}));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 502);
  CHECK(r.body.find("request id") != std::string::npos);
  CHECK(r.header("X-Request-Id").size() == 32);
}

TEST_CASE("a connect failure is retried on another backend: the client sees no error") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml(
      {{"web", "round_robin", {"127.0.0.1:" + std::to_string(unused_port()), backends.address(0)}}},
      "workers: 1\n"));
  for (int i = 0; i < 20; ++i) {
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 200);
  }
  CHECK(backends.backend(0).stats().requests.load() == 20);
}

TEST_CASE("504 when the backend does not answer within timeouts.upstream_response") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml(
      {{"web", "round_robin", {backends.address(0)}, {}, "    retry: { attempts: 0 }\n"}},
      "timeouts: { upstream_response: 300ms }\n"));
  auto r = http_get(proxy.port(), "/delay/3000");
  CHECK(r.status == 504);
}

TEST_CASE("404 when no route matches - and the connection stays usable") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}, "",
                                 "  - { host: only.example.com, pool: web }\n"));
  http_connection conn(proxy.port());
  auto miss = conn.request("GET", "/", {{"Host", "other.example.com"}});
  CHECK(miss.status == 404);
  auto hit = conn.request("GET", "/", {{"Host", "only.example.com"}});
  CHECK(hit.status == 200);
}
