// A pool's discovery section: what it accepts, and each error placed at t.yaml:LINE:COL.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace tally::config::test;

namespace {

std::string pool_with(
    std::string_view discovery,
    std::string_view backends = "    backends: [ { address: a.internal:80 } ]\n") {
  return "pools:\n  web:\n    discovery: " + std::string(discovery) + "\n" + std::string(backends) +
         "routes: [ { pool: web } ]\n";
}

}  // namespace

TEST_CASE("discovery.etcd is read, and backends may be left out with it") {
  auto r = load(pool_with(
      R"({ etcd: { endpoints: [ "http://127.0.0.1:2379", "http://etcd-2.internal:2379/" ], prefix: /tally/web/, token: abc } })",
      ""));
  REQUIRE(r.ok());
  const auto& pool = r.value->pools.at(0);
  REQUIRE(pool.discovery);
  REQUIRE(pool.discovery->etcd);
  CHECK(pool.backends.empty());
  CHECK(pool.discovery->etcd->prefix == "/tally/web/");
  CHECK(pool.discovery->etcd->token == "abc");
  REQUIRE(pool.discovery->etcd->endpoints.size() == 2);
  CHECK(pool.discovery->etcd->endpoints[1].host == "etcd-2.internal");
  CHECK(pool.discovery->etcd->endpoints[1].port == 2379);
}

TEST_CASE("discovery.dns is read with its default refresh") {
  auto r = load(pool_with("{ dns: {} }"));
  REQUIRE(r.ok());
  REQUIRE(r.value->pools.at(0).discovery->dns);
  CHECK(r.value->pools.at(0).discovery->dns->refresh.count() == 5000);
  auto fast = load(pool_with("{ dns: { refresh: 250ms } }"));
  REQUIRE(fast.ok());
  CHECK(fast.value->pools.at(0).discovery->dns->refresh.count() == 250);
}

TEST_CASE("discovery errors name the key and what to write") {
  auto e = only_error(
      pool_with(R"({ etcd: { endpoints: [ "https://127.0.0.1:2379" ], prefix: /p/ } })"));
  CHECK(starts_with(e, "t.yaml:3:39: "));
  CHECK(contains(e, "https:// is not supported yet"));
  CHECK(contains(e, "issue 14"));

  e = only_error(pool_with(R"({ etcd: { endpoints: [ "127.0.0.1:2379" ], prefix: /p/ } })"));
  CHECK(starts_with(e, "t.yaml:3:39: "));
  CHECK(contains(e, "must be http://host:port"));

  e = only_error(pool_with(R"({ etcd: { endpoints: [], prefix: /p/ } })"));
  CHECK(contains(e, "endpoints is empty"));

  e = only_error(pool_with(R"({ etcd: { endpoints: [ "http://127.0.0.1:2379" ] } })"));
  CHECK(starts_with(e, "t.yaml:3:"));
  CHECK(contains(e, "prefix"));

  e = only_error(pool_with(
      R"({ dns: { refresh: 5s }, etcd: { endpoints: [ "http://127.0.0.1:2379" ], prefix: /p/ } })"));
  CHECK(contains(e, "cannot both be set"));

  e = only_error(pool_with("{ dns: { refresh: 10ms } }"));
  CHECK(contains(e, "pools.web.discovery.dns.refresh"));

  e = only_error(pool_with("{}"));
  CHECK(contains(e, "missing pools.web.discovery.etcd"));

  e = only_error(pool_with("{ consul: {} }"));
  CHECK(contains(e, "unknown key \"consul\" in pools.web.discovery; expected one of: dns, etcd"));
}

TEST_CASE("without etcd discovery a pool still needs backends") {
  auto e = only_error(pool_with("{ dns: { refresh: 5s } }", ""));
  CHECK(contains(e, "backends"));
}
