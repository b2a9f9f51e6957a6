#include <doctest/doctest.h>

#include "tally/proxy/route_table.hpp"

using tally::proxy::route_table;
using tally::proxy::strip_port;

namespace {

tally::config::route_config route(std::string host, std::string prefix, std::size_t pool) {
  tally::config::route_config r;
  r.host = std::move(host);
  r.path_prefix = std::move(prefix);
  r.pool = "p" + std::to_string(pool);
  r.pool_index = pool;
  return r;
}

long matched(const route_table& t, std::string_view host, std::string_view path) {
  auto* r = t.match(host, path);
  return r ? static_cast<long>(r->pool_index) : -1;
}

}  // namespace

TEST_CASE("strip_port handles names - IPv4 and bracketed IPv6") {
  CHECK(strip_port("example.com:8080") == "example.com");
  CHECK(strip_port("example.com") == "example.com");
  CHECK(strip_port("10.0.0.1:80") == "10.0.0.1");
  CHECK(strip_port("[::1]:8080") == "::1");
  CHECK(strip_port("[::1]") == "::1");
  CHECK(strip_port("::1") == "::1");  // unbracketed IPv6 is left alone
}

TEST_CASE("first match wins - in file order") {
  route_table t({route("api.example.com", "/v1", 0), route("", "/v1", 1), route("", "/", 2)});
  CHECK(matched(t, "api.example.com", "/v1/users") == 0);
  CHECK(matched(t, "www.example.com", "/v1/users") == 1);
  CHECK(matched(t, "api.example.com", "/v2") == 2);
}

TEST_CASE("exact hosts match case-insensitively - without port or trailing dot") {
  route_table t({route("API.example.com", "/", 0)});
  CHECK(matched(t, "api.example.com", "/") == 0);
  CHECK(matched(t, "Api.Example.COM:443", "/") == 0);
  CHECK(matched(t, "api.example.com.", "/") == 0);
  CHECK(matched(t, "api.example.org", "/") == -1);
  CHECK(matched(t, "xapi.example.com", "/") == -1);
  CHECK(matched(t, "", "/") == -1);
}

TEST_CASE("wildcard hosts need at least one label before the suffix") {
  route_table t({route("*.example.com", "/", 0)});
  CHECK(matched(t, "a.example.com", "/") == 0);
  CHECK(matched(t, "a.b.example.com", "/x") == 0);
  CHECK(matched(t, "A.EXAMPLE.COM:8080", "/") == 0);
  CHECK(matched(t, "example.com", "/") == -1);
  CHECK(matched(t, "badexample.com", "/") == -1);
  CHECK(matched(t, ".example.com", "/") == -1);
}

TEST_CASE("path prefixes are plain string prefixes") {
  route_table t({route("", "/static/", 0), route("", "/api", 1)});
  CHECK(matched(t, "h", "/static/app.js") == 0);
  CHECK(matched(t, "h", "/static") == -1);
  CHECK(matched(t, "h", "/api") == 1);
  CHECK(matched(t, "h", "/api/v1") == 1);
  CHECK(matched(t, "h", "/apiary") == 1);  // as nginx and Envoy prefixes do
  CHECK(matched(t, "h", "/") == -1);
}
