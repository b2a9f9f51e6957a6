#include <doctest/doctest.h>

#include <boost/beast/http.hpp>

#include "http/header_rewrite.hpp"

namespace http = boost::beast::http;
using namespace tally::proxy;

namespace {

http::request_header<> request(std::initializer_list<std::pair<const char*, const char*>> fields,
                               unsigned version = 11) {
  http::request_header<> h;
  h.method(http::verb::get);
  h.target("/p?q=1");
  h.version(version);
  for (auto [n, v] : fields)
    h.insert(n, v);
  return h;
}

std::string upstream(const http::request_header<>& h, bool upgrade = false) {
  std::string out;
  serialize_upstream_request(out, h, forward_context{"192.0.2.9", "rid-1", h.version(), upgrade});
  return out;
}

}  // namespace

TEST_CASE("the upstream request is HTTP/1.1 with the forwarding headers added") {
  auto out = upstream(request({{"Host", "shop.example"}, {"Accept", "*/*"}}));
  CHECK(out ==
        "GET /p?q=1 HTTP/1.1\r\n"
        "Host: shop.example\r\n"
        "Accept: */*\r\n"
        "X-Forwarded-For: 192.0.2.9\r\n"
        "X-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: shop.example\r\n"
        "Via: 1.1 tally\r\n"
        "X-Request-Id: rid-1\r\n\r\n");
}

TEST_CASE("X-Forwarded-For and Via are appended to - several fields merged in order") {
  auto out = upstream(request({{"Host", "h"},
                               {"X-Forwarded-For", "203.0.113.1"},
                               {"Via", "1.1 edge"},
                               {"x-forwarded-for", "203.0.113.2, 10.0.0.1"}},
                              10));
  CHECK(out.find("X-Forwarded-For: 203.0.113.1, 203.0.113.2, 10.0.0.1, 192.0.2.9\r\n") !=
        std::string::npos);
  CHECK(out.find("Via: 1.1 edge, 1.0 tally\r\n") != std::string::npos);
  CHECK(out.rfind("GET /p?q=1 HTTP/1.1\r\n", 0) == 0);  // HTTP/1.0 client, HTTP/1.1 upstream
}

TEST_CASE("hop-by-hop fields and fields named in Connection are removed") {
  auto out = upstream(request({{"Host", "h"},
                               {"Connection", "keep-alive, X-Secret, content-length"},
                               {"X-Secret", "1"},
                               {"Keep-Alive", "timeout=5"},
                               {"Proxy-Connection", "keep-alive"},
                               {"TE", "trailers"},
                               {"Trailer", "X-T"},
                               {"Upgrade", "websocket"},
                               {"Content-Length", "0"},
                               {"X-Forwarded-Proto", "https"},
                               {"X-Request-Id", "spoofed"},
                               {"X-Kept", "yes"}}));
  for (const char* gone : {"Connection:", "X-Secret", "Keep-Alive", "Proxy-Connection",
                           "TE:", "Trailer:", "Upgrade:", "https", "spoofed"})
    CHECK_MESSAGE(out.find(gone) == std::string::npos, gone);
  CHECK(out.find("Content-Length: 0\r\n") != std::string::npos);  // framing cannot be stripped
  CHECK(out.find("X-Kept: yes\r\n") != std::string::npos);
}

TEST_CASE("an upgrade keeps Connection: upgrade and the Upgrade field") {
  auto h = request({{"Host", "h"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  CHECK(wants_upgrade(h));
  auto out = upstream(h, true);
  CHECK(out.find("Upgrade: websocket\r\n") != std::string::npos);
  CHECK(out.find("Connection: upgrade\r\n") != std::string::npos);
  CHECK_FALSE(wants_upgrade(request({{"Upgrade", "websocket"}})));
}

TEST_CASE("responses: hop-by-hop removed - Via appended - Connection and framing per client") {
  http::response_header<> res;
  res.result(http::status::ok);
  res.version(11);
  res.insert("Content-Type", "text/plain");
  res.insert("Connection", "keep-alive, X-Internal");
  res.insert("X-Internal", "1");
  res.insert("Transfer-Encoding", "chunked");
  res.insert("Via", "1.1 app");

  std::string out;
  serialize_downstream_response(out, res, {11, true, false, response_body_framing::as_received});
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
        "Via: 1.1 app, 1.1 tally\r\n\r\n");

  serialize_downstream_response(out, res,
                                {10, false, false, response_body_framing::remove_chunked});
  CHECK(out == "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nVia: 1.1 app, 1.1 tally\r\n\r\n");

  serialize_downstream_response(out, res, {11, false, false, response_body_framing::as_received});
  CHECK(out.find("Connection: close\r\n") != std::string::npos);

  http::response_header<> plain;
  plain.result(http::status::ok);
  serialize_downstream_response(out, plain, {10, true, false, response_body_framing::add_chunked});
  CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(out.find("Connection: keep-alive\r\n") != std::string::npos);
}

TEST_CASE("client request ids are kept only when sane") {
  CHECK(valid_request_id("abc-123"));
  CHECK(valid_request_id(std::string(128, 'x')));
  CHECK_FALSE(valid_request_id(""));
  CHECK_FALSE(valid_request_id(std::string(129, 'x')));
  CHECK_FALSE(valid_request_id("has space"));
  CHECK_FALSE(valid_request_id("bad\x01"));
}

TEST_CASE("an absolute-form request goes upstream in origin form with the authority as Host") {
  auto h = request({{"Host", "internal.example"}, {"Accept", "*/*"}});
  h.target("http://public.example/x?q=1");
  std::string out;
  serialize_upstream_request(
      out, h, forward_context{"192.0.2.9", "rid-1", 11, false, "/x?q=1", "public.example"});
  CHECK(out ==
        "GET /x?q=1 HTTP/1.1\r\n"
        "Host: public.example\r\n"
        "Accept: */*\r\n"
        "X-Forwarded-For: 192.0.2.9\r\n"
        "X-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: public.example\r\n"
        "Via: 1.1 tally\r\n"
        "X-Request-Id: rid-1\r\n\r\n");
  // HTTP/1.0 may send no Host: the authority supplies one.
  auto old = request({}, 10);
  old.target("http://public.example/x");
  serialize_upstream_request(
      out, old, forward_context{"192.0.2.9", "rid-1", 10, false, "/x", "public.example"});
  CHECK(out.find("GET /x HTTP/1.1\r\nHost: public.example\r\n") == 0);
}

TEST_CASE("repeated identical Content-Length values are forwarded as one field") {
  auto twice = request({{"Host", "a"}, {"Content-Length", "5"}, {"Content-Length", "5"}});
  auto out = upstream(twice);
  CHECK(out.find("Content-Length: 5\r\n") != std::string::npos);
  CHECK(out.find("Content-Length", out.find("Content-Length") + 1) == std::string::npos);
  auto list = request({{"Host", "a"}, {"Content-Length", "5, 5"}});
  out = upstream(list);
  CHECK(out.find("\r\nContent-Length: 5\r\n") != std::string::npos);
}

TEST_CASE("every X-Forwarded-For and Via field is kept - however many there are") {
  auto h = request({{"Host", "a"}});
  for (int i = 1; i <= 6; ++i) {
    h.insert("X-Forwarded-For", "10.0.0." + std::to_string(i));
    h.insert(http::field::via, "1.1 hop" + std::to_string(i));
  }
  auto out = upstream(h);
  CHECK(out.find("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6, "
                 "192.0.2.9\r\n") != std::string::npos);
  CHECK(
      out.find("Via: 1.1 hop1, 1.1 hop2, 1.1 hop3, 1.1 hop4, 1.1 hop5, 1.1 hop6, 1.1 tally\r\n") !=
      std::string::npos);
}

TEST_CASE("a field named in a fifth Connection header - past eight names - is removed") {
  auto h = request({{"Host", "a"}});
  for (int i = 1; i <= 4; ++i)
    h.insert(http::field::connection,
             "x-a" + std::to_string(i) + ", x-b" + std::to_string(i) + ", x-c" + std::to_string(i));
  h.insert(http::field::connection, "x-secret");
  h.insert("X-Secret", "leak");
  h.insert("X-C4", "leak");
  auto out = upstream(h);
  CHECK(out.find("leak") == std::string::npos);
}
