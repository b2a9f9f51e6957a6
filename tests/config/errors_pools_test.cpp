// Errors in pools: names, policy, hash_key and backends.
// Each check places the error exactly: t.yaml:LINE:COL of the offending key or value.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace tally::config::test;

TEST_CASE("unknown keys in a pool and in a backend") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    polcy: round_robin\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:5: "));
    CHECK(contains(e,
                   "unknown key \"polcy\" in pools.web; expected one of: policy, hash_key, "
                   "backends, health_check, outlier, retry, max_connections, queue"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001, wieght: 2 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:44: "));
    CHECK(contains(
        e, "unknown key \"wieght\" in pools.web.backends[0]; expected one of: address, weight"));
  }
}

TEST_CASE("pool names and shapes") {
  {
    auto e = only_error(
        "pools:\n"
        "  \"web pool\": { backends: [ { address: 127.0.0.1:9001 } ] }\n"
        "routes: [ { pool: web pool } ]\n");
    CHECK(starts_with(e, "t.yaml:2:3: "));
    CHECK(contains(e, "pool name \"web pool\" may only use letters, digits, '_', '.' and '-'"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web: round_robin\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:2:8: "));
    CHECK(contains(e,
                   "pools.web must be a map of key: value (one of: policy, hash_key, backends, "
                   "health_check, outlier, retry, max_connections, queue, discovery, tls), got "
                   "\"round_robin\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web: { backends: [ { address: 127.0.0.1:9001 } ] }\n"
        "  web: { backends: [ { address: 127.0.0.1:9002 } ] }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:3: "));
    CHECK(contains(e, "pool \"web\" is defined twice (first at line 2); rename or merge one"));
  }
}

TEST_CASE("policy is one of the five") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    policy: rr\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e,
                   "pools.web.policy must be one of: round_robin, weighted_round_robin, "
                   "least_connections, random_two, consistent_hash; got \"rr\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    policy: [round_robin]\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e, "pools.web.policy must be a policy name, got a list"));
  }
}

TEST_CASE("hash_key only with consistent_hash - as client_ip - header:NAME or cookie:NAME") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    hash_key: client_ip\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:15: "));
    CHECK(contains(e,
                   "pools.web.hash_key only applies to policy consistent_hash (this pool uses "
                   "round_robin); remove it or set policy: consistent_hash"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    policy: least_connections\n"
        "    hash_key: client_ip\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:15: "));
    CHECK(contains(e, "this pool uses least_connections"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    hash_key: \"header:\"\n"
        "    policy: consistent_hash\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:15: "));
    CHECK(contains(e,
                   "pools.web.hash_key must be client_ip, header:NAME or cookie:NAME with a "
                   "non-empty NAME; got \"header:\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    policy: consistent_hash\n"
        "    hash_key: query:id\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:15: "));
    CHECK(contains(e,
                   "pools.web.hash_key must be client_ip, header:NAME or cookie:NAME with a "
                   "non-empty NAME; got \"query:id\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    policy: consistent_hash\n"
        "    hash_key: \"cookie:a b\"\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:15: "));
    CHECK(contains(e, "got \"cookie:a b\""));
  }
}

TEST_CASE("backends is a non-empty list of maps with an address") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    policy: round_robin\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:3:5: "));
    CHECK(contains(e,
                   "missing pools.web.backends; add a list of backends, like backends: [ { "
                   "address: 127.0.0.1:9001, weight: 1 } ]"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web: { backends: [] }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:2:20: "));
    CHECK(contains(e,
                   "pools.web.backends is empty; add at least one backend, like backends: [ { "
                   "address: 127.0.0.1:9001, weight: 1 } ]"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web: { backends: 127.0.0.1:9001 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:2:20: "));
    CHECK(contains(e,
                   "pools.web.backends must be a list, like backends: [ { address: 127.0.0.1:9001, "
                   "weight: 1 } ], got \"127.0.0.1:9001\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - 127.0.0.1:9001\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:9: "));
    CHECK(contains(e,
                   "pools.web.backends[0] must be a map of key: value (one of: address, weight), "
                   "got \"127.0.0.1:9001\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:9001 }\n"
        "      - { weight: 2 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:5:9: "));
    CHECK(contains(e,
                   "missing pools.web.backends[1].address; each backend needs address: host:port"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:0 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:20: "));
    CHECK(contains(e,
                   "bad address \"127.0.0.1:0\": port 0 is only allowed for listen and "
                   "admin.listen; use a port from 1 to 65535"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: \"[::1]:99999\" }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:20: "));
    CHECK(contains(e,
                   "bad address \"[::1]:99999\": has a port that is not a number from 0 to 65535"));
  }
}

TEST_CASE("weight is a whole number from 0 to 1000") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:9001, weight: 1001 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:44: "));
    CHECK(contains(e, "pools.web.backends[0].weight must be between 0 and 1000, got \"1001\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:9001, weight: 1.5 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:44: "));
    CHECK(contains(
        e, "pools.web.backends[0].weight must be a whole number between 0 and 1000, got \"1.5\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:9001, weight: -2 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:44: "));
    CHECK(contains(
        e, "pools.web.backends[0].weight must be a whole number between 0 and 1000, got \"-2\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:9001, weight: true }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:44: "));
    CHECK(contains(
        e, "pools.web.backends[0].weight must be a whole number between 0 and 1000, got \"true\""));
  }
}

TEST_CASE("a duplicate backend is reported at the second one and names the line of the first") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:9001 }\n"
        "      - { address: 127.0.0.1:9002 }\n"
        "      - { address: 127.0.0.1:9001, weight: 2 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:6:20: "));
    CHECK(contains(e,
                   "duplicate backend \"127.0.0.1:9001\" in pools.web.backends (first listed at "
                   "line 4); list each address once"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: Backend.local:80 }\n"
        "      - { address: backend.LOCAL:80 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:5:20: "));
    CHECK(contains(
        e,
        "duplicate backend \"backend.LOCAL:80\" in pools.web.backends (first listed at line 4)"));
  }
}

TEST_CASE("a pool whose backends all have weight 0 can take no traffic") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends:\n"
        "      - { address: 127.0.0.1:9001, weight: 0 }\n"
        "      - { address: 127.0.0.1:9002, weight: 0 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:7: "));
    CHECK(contains(e,
                   "every backend in pools.web.backends has weight 0, so the pool can take no "
                   "traffic; give at least one backend a weight of 1 or more"));
  }
}
