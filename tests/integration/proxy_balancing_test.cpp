// Traffic through a real tally to real backends: distribution, keep-alive reuse, headers, routes.
#include <doctest/doctest.h>

#include <map>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/proxy_fixture.hpp"

using namespace tally::test;

namespace {

std::map<std::string, int> count_names(std::uint16_t port, int requests, bool keep_alive = true) {
  std::map<std::string, int> seen;
  http_connection conn(port);
  for (int i = 0; i < requests; ++i) {
    auto r = keep_alive ? conn.request("GET", "/") : http_get(port, "/");
    REQUIRE_MESSAGE(r.ok(), r.error);
    REQUIRE(r.status == 200);
    seen[r.header("X-Backend")]++;
  }
  return seen;
}

}  // namespace

TEST_CASE("round robin spreads requests evenly over three backends") {
  backend_set backends(3);
  proxy_fixture proxy(proxy_yaml(
      {{"web", "round_robin", {backends.address(0), backends.address(1), backends.address(2)}}},
      "workers: 1\n"));
  auto seen = count_names(proxy.port(), 30);
  CHECK(seen["b1"] == 10);
  CHECK(seen["b2"] == 10);
  CHECK(seen["b3"] == 10);
}

TEST_CASE("weighted round robin follows the weights 5 1 1 exactly over whole periods") {
  backend_set backends(3);
  proxy_fixture proxy(proxy_yaml({{"web",
                                   "weighted_round_robin",
                                   {backends.address(0), backends.address(1), backends.address(2)},
                                   {5, 1, 1}}},
                                 "workers: 1\n"));
  std::string order;
  http_connection conn(proxy.port());
  for (int i = 0; i < 14; ++i) {
    auto r = conn.request("GET", "/");
    REQUIRE(r.status == 200);
    order += r.header("X-Backend") == "b1" ? 'a' : r.header("X-Backend") == "b2" ? 'b' : 'c';
  }
  CHECK(order == "aabacaaaabacaa");
}

TEST_CASE("weight 0 takes no traffic") {
  backend_set backends(2);
  proxy_fixture proxy(proxy_yaml(
      {{"web", "weighted_round_robin", {backends.address(0), backends.address(1)}, {1, 0}}}));
  auto seen = count_names(proxy.port(), 20);
  CHECK(seen["b1"] == 20);
  CHECK(backends.backend(1).stats().requests.load() == 0);
}

TEST_CASE("upstream keep-alive: backends see far fewer connections than requests") {
  backend_set backends(2);
  proxy_fixture proxy(
      proxy_yaml({{"web", "round_robin", {backends.address(0), backends.address(1)}}}));
  // New client connection per request: reuse must come from tally's upstream pools.
  auto seen = count_names(proxy.port(), 200, false);
  CHECK(seen["b1"] + seen["b2"] == 200);
  auto conns = backends.backend(0).stats().connections.load() +
               backends.backend(1).stats().connections.load();
  auto reqs =
      backends.backend(0).stats().requests.load() + backends.backend(1).stats().requests.load();
  CHECK(reqs == 200);
  // Two workers, each with its own pool per backend: a handful of connections at most.
  CHECK(conns <= 8);
}

TEST_CASE(
    "forwarded headers: X-Forwarded-For and friends - Via - X-Request-Id - hop-by-hop stripped") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}));
  http_connection conn(proxy.port());
  auto r = conn.request("GET", "/headers",
                        {{"Host", "shop.example.com"},
                         {"X-Forwarded-For", "203.0.113.7"},
                         {"Connection", "keep-alive, X-Secret"},
                         {"X-Secret", "do-not-forward"},
                         {"Keep-Alive", "timeout=5"},
                         {"Proxy-Connection", "keep-alive"},
                         {"TE", "trailers"},
                         {"X-Request-Id", "client-chosen-id"}});
  REQUIRE(r.status == 200);
  const auto& seen = r.body;
  CHECK(seen.find("X-Forwarded-For: 203.0.113.7, 127.0.0.1\n") != std::string::npos);
  CHECK(seen.find("X-Forwarded-Proto: http\n") != std::string::npos);
  CHECK(seen.find("X-Forwarded-Host: shop.example.com\n") != std::string::npos);
  CHECK(seen.find("Via: 1.1 tally\n") != std::string::npos);
  CHECK(seen.find("X-Request-Id: client-chosen-id\n") != std::string::npos);
  CHECK(seen.find("X-Secret") == std::string::npos);
  CHECK(seen.find("Keep-Alive") == std::string::npos);
  CHECK(seen.find("Proxy-Connection") == std::string::npos);
  CHECK(seen.find("\nTE:") == std::string::npos);
  CHECK(seen.find("\nConnection:") == std::string::npos);
  CHECK(r.header("Via") == "1.1 tally");

  auto generated = conn.request("GET", "/headers");
  auto pos = generated.body.find("X-Request-Id: ");
  REQUIRE(pos != std::string::npos);
  auto id = generated.body.substr(pos + 14, generated.body.find('\n', pos) - pos - 14);
  CHECK(id.size() == 32);
}

TEST_CASE("routes: exact host - wildcard host and path prefix - first match wins - 404 otherwise") {
  backend_set backends(3);
  std::string routes =
      "  - { host: api.example.com, path_prefix: /v1, pool: api }\n"
      "  - { host: \"*.example.com\", pool: web }\n"
      "  - { path_prefix: /static, pool: assets }\n";
  proxy_fixture proxy(proxy_yaml({{"api", "round_robin", {backends.address(0)}},
                                  {"web", "round_robin", {backends.address(1)}},
                                  {"assets", "round_robin", {backends.address(2)}}},
                                 "", routes));
  auto via = [&](std::string host, std::string path) {
    auto r = http_get(proxy.port(), path, {{"Host", host}});
    return r.status == 200 ? r.header("X-Backend") : std::to_string(r.status);
  };
  CHECK(via("api.example.com", "/v1/users") == "b1");
  CHECK(via("API.Example.com:8080", "/v1") == "b1");
  CHECK(via("api.example.com", "/v2") == "b2");  // falls through to the wildcard
  CHECK(via("www.example.com", "/v1") == "b2");
  CHECK(via("a.b.example.com", "/") == "b2");
  CHECK(via("example.com", "/static/x.css") == "b3");  // wildcard needs a subdomain
  CHECK(via("other.org", "/") == "404");
}

TEST_CASE("HTTP/1.0 client without keep-alive gets an answer and a closed connection") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}));
  auto raw = raw_exchange(proxy.port(), "GET / HTTP/1.0\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.0 200", 0) == 0);
  CHECK(raw.find("b1\n") != std::string::npos);
}

TEST_CASE("pipelined requests are answered in order on one connection") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}));
  auto raw = raw_exchange(proxy.port(),
                          "GET /status/201 HTTP/1.1\r\nHost: a\r\n\r\n"
                          "GET /status/202 HTTP/1.1\r\nHost: a\r\n\r\n"
                          "GET /status/203 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  auto a = raw.find("HTTP/1.1 201");
  auto b = raw.find("HTTP/1.1 202");
  auto c = raw.find("HTTP/1.1 203");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  REQUIRE(c != std::string::npos);
  CHECK(a < b);
  CHECK(b < c);
}
