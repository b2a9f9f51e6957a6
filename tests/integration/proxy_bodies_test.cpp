// Bodies stream through tally byte-exact, whatever their size and framing.
#include <doctest/doctest.h>

#include <string>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/proxy_fixture.hpp"
#include "tally/proxy/demo_backend.hpp"

using namespace tally::test;
using tally::proxy::demo_backend;

namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = demo_backend::pattern_byte(i);
  return s;
}

std::string sink_answer(const std::string& body) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(
                    demo_backend::fnv1a(demo_backend::fnv1a_initial, body.data(), body.size())));
  return "bytes=" + std::to_string(body.size()) + " fnv=" + hex + "\n";
}

// Decodes a chunked body; returns false on bad framing.
bool dechunk(std::string_view in, std::string& out) {
  for (;;) {
    auto eol = in.find("\r\n");
    if (eol == std::string_view::npos) return false;
    auto size = std::stoul(std::string(in.substr(0, eol)), nullptr, 16);
    in.remove_prefix(eol + 2);
    if (size == 0) return true;
    if (in.size() < size + 2) return false;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

std::string body_of(const std::string& raw) {
  auto pos = raw.find("\r\n\r\n");
  return pos == std::string::npos ? std::string{} : raw.substr(pos + 4);
}

struct one_backend {
  backend_set backends{1};
  proxy_fixture proxy{proxy_yaml({{"web", "round_robin", {backends.address(0)}}})};
};

}  // namespace

TEST_CASE("64 MiB upload arrives byte-exact") {
  one_backend t;
  std::string body = pattern(64u << 20);
  http_connection conn(t.proxy.port(), std::chrono::seconds(60));
  auto r = conn.request("POST", "/sink", {{"Content-Type", "application/octet-stream"}}, body);
  REQUIRE_MESSAGE(r.ok(), r.error);
  CHECK(r.status == 200);
  CHECK(r.body == sink_answer(body));
}

TEST_CASE("64 MiB download arrives byte-exact") {
  one_backend t;
  http_connection conn(t.proxy.port(), std::chrono::seconds(60));
  auto r = conn.request("GET", "/bytes/67108864");
  REQUIRE_MESSAGE(r.ok(), r.error);
  CHECK(r.status == 200);
  REQUIRE(r.body.size() == (64u << 20));
  CHECK(r.body == pattern(64u << 20));
}

TEST_CASE("chunked request body passes through") {
  one_backend t;
  auto raw = raw_exchange(t.proxy.port(),
                          "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                          "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(body_of(raw) == sink_answer("hello world"));

  // A large chunked upload, in many chunks, through a keep-alive connection.
  std::string body = pattern(3u << 20);
  std::string request =
      "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (std::size_t off = 0; off < body.size(); off += 70000) {
    auto piece = body.substr(off, 70000);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    request += size + piece + "\r\n";
  }
  request += "0\r\n\r\n";
  auto big = raw_exchange(t.proxy.port(), request, std::chrono::seconds(30));
  CHECK(big.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(body_of(big) == sink_answer(body));
}

TEST_CASE("chunked response passes through to HTTP/1.1 and is close-delimited for HTTP/1.0") {
  one_backend t;
  auto raw =
      raw_exchange(t.proxy.port(),
                   "GET /bytes/300000?chunked=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  REQUIRE(raw.rfind("HTTP/1.1 200", 0) == 0);
  auto head = raw.substr(0, raw.find("\r\n\r\n"));
  CHECK(head.find("Transfer-Encoding: chunked") != std::string::npos);
  std::string decoded;
  CHECK(dechunk(body_of(raw), decoded));
  CHECK(decoded == pattern(300000));

  auto old = raw_exchange(t.proxy.port(), "GET /bytes/300000?chunked=1 HTTP/1.0\r\n\r\n");
  REQUIRE(old.rfind("HTTP/1.0 200", 0) == 0);
  CHECK(old.substr(0, old.find("\r\n\r\n")).find("chunked") == std::string::npos);
  CHECK(body_of(old) == pattern(300000));
}

TEST_CASE("HEAD gets headers and no body - keep-alive goes on after it") {
  one_backend t;
  http_connection conn(t.proxy.port());
  auto head = conn.request("HEAD", "/bytes/5000");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  auto get = conn.request("GET", "/bytes/10");
  CHECK(get.status == 200);
  CHECK(get.body == pattern(10));
}

TEST_CASE("Expect: 100-continue is answered by tally and the body still arrives") {
  one_backend t;
  auto raw = raw_exchange(t.proxy.port(),
                          "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                          "Expect: 100-continue\r\nConnection: close\r\n\r\nhello");
  CHECK(raw.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0) == 0);
  CHECK(body_of(raw.substr(raw.find("HTTP/1.1 200"))) == sink_answer("hello"));
}
