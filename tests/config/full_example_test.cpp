// The SPEC example parses into the right values, and absent keys take the SPEC defaults.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace tally::config;
using namespace tally::config::test;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view spec_example =
    R"(listen: 127.0.0.1:8080            # proxy listener (host:port)
admin:
  listen: 127.0.0.1:9901          # admin API, metrics and cluster protocol
  token: ""                       # if set: POST/PUT/DELETE and /cluster/* need a token
workers: 0                        # event-loop threads; 0 = one per core
timeouts: { connect: 1s, request_header: 10s, idle: 60s, upstream_response: 30s, drain: 15s }
limits: { max_header_bytes: 16KiB, max_body_bytes: 100MiB, max_connections: 10000 }
access_log: { enabled: true, path: "-" }   # "-" = stdout; one JSON object per line
pools:
  web:
    policy: round_robin           # round_robin | weighted_round_robin | ...
    backends:
      - { address: 127.0.0.1:9001, weight: 3 }
      - { address: 127.0.0.1:9002 }           # weight defaults to 1; 0 = takes no new traffic
    health_check: { path: /healthz, interval: 2s, timeout: 1s, rise: 2, fall: 3, expect_status: "200-399" }
    outlier: { consecutive_failures: 5, ejection: 30s, max_ejected_percent: 50 }
    retry: { attempts: 2, per_try_timeout: 5s, on: [connect_failure, reset, timeout, "502", "503", "504"], budget_percent: 20, backoff: 25ms }
  api:
    policy: consistent_hash
    hash_key: client_ip           # consistent_hash only: client_ip | header:NAME | cookie:NAME
    backends: [ { address: "[::1]:9101" }, { address: backend-2.internal:9102, weight: 0 }, { address: 10.0.0.3:9103 } ]
routes:                           # first match wins; host is exact or "*.example.com"
  - { host: API.example.com, path_prefix: /v1, pool: api }
  - { host: "*.example.com", pool: web }
  - { path_prefix: /, pool: web }
cluster:                          # optional; without it the replica is a cluster of one
  node_id: lb-1
  peers: [ { id: lb-2, address: 127.0.0.1:9902 }, { id: lb-3, address: 127.0.0.1:9903 } ]
  gossip_interval: 500ms
  vote_ttl: 3s
checkpoint: { path: ./tally-state.json, interval: 5s }   # optional
)";

}  // namespace

TEST_CASE("the SPEC example parses into the values it states") {
  auto r = load(spec_example);
  for (const auto& e : r.errors)
    INFO(e.to_string());
  REQUIRE(r.ok());
  REQUIRE(r.errors.empty());
  const config& c = *r.value;

  CHECK(c.source_name == "t.yaml");
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners.front().address.host == "127.0.0.1");
  CHECK(c.listeners.front().address.port == 8080);
  CHECK(c.listeners.front().address.text == "127.0.0.1:8080");
  CHECK_FALSE(c.listeners.front().tls);
  CHECK_FALSE(c.admin_tls);
  CHECK_FALSE(c.pools.front().tls);
  CHECK(r.warnings.empty());
  CHECK(c.admin_listen.port == 9901);
  CHECK(c.admin_token.empty());
  CHECK(c.workers == 0);
  CHECK(c.timeouts.connect == 1s);
  CHECK(c.timeouts.request_header == 10s);
  CHECK(c.timeouts.idle == 60s);
  CHECK(c.timeouts.upstream_response == 30s);
  CHECK(c.timeouts.drain == 15s);
  CHECK(c.limits.max_header_bytes == 16 * 1024);
  CHECK(c.limits.max_body_bytes == 100ull * 1024 * 1024);
  CHECK(c.limits.max_connections == 10000);
  CHECK(c.access_log.enabled);
  CHECK(c.access_log.path == "-");

  REQUIRE(c.pools.size() == 2);
  const pool_config& web = c.pools[0];
  CHECK(web.name == "web");
  CHECK(web.policy == policy_kind::round_robin);
  REQUIRE(web.backends.size() == 2);
  CHECK(web.backends[0].address.text == "127.0.0.1:9001");
  CHECK(web.backends[0].weight == 3);
  CHECK(web.backends[1].address.port == 9002);
  CHECK(web.backends[1].weight == 1);
  CHECK(web.health_check_configured);
  CHECK(web.health_check.path == "/healthz");
  CHECK(web.health_check.interval == 2s);
  CHECK(web.health_check.timeout == 1s);
  CHECK(web.health_check.rise == 2);
  CHECK(web.health_check.fall == 3);
  REQUIRE(web.health_check.expect_status.size() == 1);
  CHECK(web.health_check.expect_status[0].low == 200);
  CHECK(web.health_check.expect_status[0].high == 399);
  CHECK(web.outlier_configured);
  CHECK(web.outlier.consecutive_failures == 5);
  CHECK(web.outlier.ejection == 30s);
  CHECK(web.outlier.max_ejected_percent == 50);
  CHECK(web.retry.attempts == 2);
  CHECK(web.retry.per_try_timeout == 5s);
  CHECK(web.retry.on == 0x3f);
  CHECK(web.retry.budget_percent == 20);
  CHECK(web.retry.backoff == 25ms);

  const pool_config& api = c.pools[1];
  CHECK(api.name == "api");
  CHECK(api.policy == policy_kind::consistent_hash);
  CHECK(api.hash_key.from == hash_key_config::source::client_ip);
  REQUIRE(api.backends.size() == 3);
  CHECK(api.backends[0].address.host == "::1");
  CHECK(api.backends[0].address.port == 9101);
  CHECK(api.backends[0].address.text == "[::1]:9101");
  CHECK(api.backends[1].address.host == "backend-2.internal");
  CHECK(api.backends[1].weight == 0);
  CHECK_FALSE(api.health_check_configured);
  CHECK_FALSE(api.outlier_configured);

  REQUIRE(c.routes.size() == 3);
  CHECK(c.routes[0].host == "api.example.com");  // stored lowercased
  CHECK(c.routes[0].path_prefix == "/v1");
  CHECK(c.routes[0].pool == "api");
  CHECK(c.routes[0].pool_index == 1);
  CHECK(c.routes[1].host == "*.example.com");
  CHECK(c.routes[1].path_prefix == "/");
  CHECK(c.routes[1].pool_index == 0);
  CHECK(c.routes[2].host.empty());
  CHECK(c.routes[2].pool_index == 0);

  REQUIRE(c.cluster.has_value());
  CHECK(c.cluster->node_id == "lb-1");
  REQUIRE(c.cluster->peers.size() == 2);
  CHECK(c.cluster->peers[0].id == "lb-2");
  CHECK(c.cluster->peers[0].address.port == 9902);
  CHECK(c.cluster->peers[1].id == "lb-3");
  CHECK(c.cluster->gossip_interval == 500ms);
  CHECK(c.cluster->vote_ttl == 3s);
  REQUIRE(c.checkpoint.has_value());
  CHECK(c.checkpoint->path == "./tally-state.json");
  CHECK(c.checkpoint->interval == 5s);
  CHECK(c.find_pool("api") == &c.pools[1]);
}

TEST_CASE("absent keys take the SPEC defaults") {
  auto r = load(minimal_yaml);
  REQUIRE(r.ok());
  const config& c = *r.value;
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners.front().address.text == "127.0.0.1:8080");
  CHECK_FALSE(c.listeners.front().tls);
  CHECK(c.admin_listen.text == "127.0.0.1:9901");
  CHECK(c.admin_token.empty());
  CHECK(c.workers == 0);
  CHECK(c.timeouts.connect == 1s);
  CHECK(c.timeouts.request_header == 10s);
  CHECK(c.timeouts.idle == 60s);
  CHECK(c.timeouts.upstream_response == 30s);
  CHECK(c.timeouts.drain == 15s);
  CHECK(c.limits.max_header_bytes == 16 * 1024);
  CHECK(c.limits.max_body_bytes == 100ull * 1024 * 1024);
  CHECK(c.limits.max_connections == 10000);
  CHECK(c.access_log.enabled);
  CHECK(c.access_log.path == "-");
  REQUIRE(c.pools.size() == 1);
  const pool_config& web = c.pools[0];
  CHECK(web.policy == policy_kind::round_robin);
  CHECK(web.backends[0].weight == 1);
  CHECK_FALSE(web.health_check_configured);
  CHECK(web.health_check.path == "/healthz");
  CHECK(web.health_check.interval == 2s);
  CHECK(web.health_check.expect_status.size() == 1);
  CHECK_FALSE(web.outlier_configured);
  CHECK(web.outlier.consecutive_failures == 5);
  CHECK(web.retry.attempts == 2);
  CHECK(web.retry.on == 0x3f);
  CHECK(web.retry.retries_on(retry_condition::status_503));
  CHECK(web.retry.backoff == 25ms);
  REQUIRE(c.routes.size() == 1);
  CHECK(c.routes[0].host.empty());
  CHECK(c.routes[0].path_prefix == "/");
  CHECK(c.routes[0].pool_index == 0);
  CHECK_FALSE(c.cluster.has_value());
  CHECK_FALSE(c.checkpoint.has_value());
}

TEST_CASE("sections written but left empty keep their defaults and count as configured") {
  auto r = load(
      "admin:\n"
      "pools:\n"
      "  web:\n"
      "    backends: [ { address: 127.0.0.1:9001 } ]\n"
      "    health_check:\n"
      "    outlier: {}\n"
      "routes: [ { pool: web } ]\n"
      "checkpoint:\n"
      "cluster: { node_id: lb-1 }\n");
  for (const auto& e : r.errors)
    INFO(e.to_string());
  REQUIRE(r.ok());
  const config& c = *r.value;
  CHECK(c.admin_listen.port == 9901);
  CHECK(c.pools[0].health_check_configured);
  CHECK(c.pools[0].health_check.interval == 2s);
  CHECK(c.pools[0].outlier_configured);
  REQUIRE(c.checkpoint.has_value());
  CHECK(c.checkpoint->path == "./tally-state.json");
  REQUIRE(c.cluster.has_value());
  CHECK(c.cluster->peers.empty());
  CHECK(c.cluster->vote_ttl == 3s);
}

TEST_CASE("block style and flow style read the same") {
  auto block = load(
      "pools:\n"
      "  web:\n"
      "    policy: consistent_hash\n"
      "    hash_key: header:X-User\n"
      "    backends:\n"
      "      - address: 127.0.0.1:9001\n"
      "        weight: 2\n"
      "    retry:\n"
      "      on:\n"
      "        - reset\n"
      "        - 502\n"
      "routes:\n"
      "  - pool: web\n"
      "    host: '*.Example.com'\n");
  auto flow = load(
      "{ pools: { web: { policy: consistent_hash, hash_key: 'header:X-User', backends: [ { "
      "address: "
      "127.0.0.1:9001, weight: 2 } ], retry: { on: [reset, '502'] } } }, routes: [ { pool: web, "
      "host: '*.example.com' } ] }");
  for (const auto& e : block.errors)
    INFO(e.to_string());
  for (const auto& e : flow.errors)
    INFO(e.to_string());
  REQUIRE(block.ok());
  REQUIRE(flow.ok());
  for (const auto* r : {&block, &flow}) {
    const pool_config& web = r->value->pools[0];
    CHECK(web.hash_key.from == hash_key_config::source::header);
    CHECK(web.hash_key.name == "X-User");
    CHECK(web.backends[0].weight == 2);
    CHECK(web.retry.on == (static_cast<unsigned>(retry_condition::reset) |
                           static_cast<unsigned>(retry_condition::status_502)));
    CHECK(r->value->routes[0].host == "*.example.com");
  }
}

TEST_CASE("other accepted forms: cookie hash key - several status ranges - port 0 listeners") {
  auto r = load(
      "listen: 127.0.0.1:0\n"
      "admin: { listen: 127.0.0.1:0, token: s3cret }\n"
      "workers: 256\n"
      "access_log: { enabled: no, path: /var/log/tally.json }\n"
      "limits: { max_header_bytes: 1KiB, max_body_bytes: 1, max_connections: 1000000 }\n"
      "pools:\n"
      "  web.v2_blue-1:\n"
      "    policy: consistent_hash\n"
      "    hash_key: cookie:session\n"
      "    backends: [ { address: localhost:1 }, { address: '[2001:db8::1]:65535', weight: 1000 } "
      "]\n"
      "    health_check: { expect_status: '200-299, 404', timeout: 2s, interval: 2s }\n"
      "    retry: { on: [], attempts: 0, budget_percent: 0, backoff: 0ms }\n"
      "    outlier: { max_ejected_percent: 100 }\n"
      "routes: [ { pool: web.v2_blue-1 } ]\n");
  for (const auto& e : r.errors)
    INFO(e.to_string());
  REQUIRE(r.ok());
  const config& c = *r.value;
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners.front().address.port == 0);
  CHECK(c.admin_listen.port == 0);
  CHECK(c.admin_token == "s3cret");
  CHECK(c.workers == 256);
  CHECK_FALSE(c.access_log.enabled);
  CHECK(c.limits.max_header_bytes == 1024);
  const pool_config& p = c.pools[0];
  CHECK(p.hash_key.from == hash_key_config::source::cookie);
  CHECK(p.hash_key.name == "session");
  CHECK(p.backends[1].address.host == "2001:db8::1");
  REQUIRE(p.health_check.expect_status.size() == 2);
  CHECK(p.health_check.expect_status[1].low == 404);
  CHECK(p.health_check.expect_status[1].high == 404);
  CHECK(p.retry.on == 0);
  CHECK(p.retry.backoff == 0ms);
}
