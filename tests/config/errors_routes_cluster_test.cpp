// Errors in routes, cluster and checkpoint.
// Each check places the error exactly: t.yaml:LINE:COL of the offending key or value.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace tally::config::test;

TEST_CASE("routes: unknown keys - missing pool - wrong shapes") {
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { pool: web, prefix: /v1 }\n");
    CHECK(starts_with(e, "t.yaml:3:18: "));
    CHECK(contains(
        e, "unknown key \"prefix\" in routes[0]; expected one of: host, path_prefix, pool"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { pool: web }\n"
        "  - { host: example.com }\n");
    CHECK(starts_with(e, "t.yaml:4:5: "));
    CHECK(contains(
        e, "missing routes[1].pool; each route needs pool: NAME of a pool defined under pools:"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - web\n");
    CHECK(starts_with(e, "t.yaml:3:5: "));
    CHECK(contains(
        e, "routes[0] must be a map of key: value (one of: host, path_prefix, pool), got \"web\""));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { pool: [web] }\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e, "routes[0].pool must be a single value, got a list"));
  }
}

TEST_CASE(
    "a route naming an unknown pool is reported at the pool value, listing the defined pools") {
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { pool: web }\n"
        "  - { path_prefix: /v2, pool: apii }\n");
    CHECK(starts_with(e, "t.yaml:4:31: "));
    CHECK(contains(e, "route names unknown pool \"apii\"; defined pools: web, api"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - pool: Web\n");
    CHECK(starts_with(e, "t.yaml:3:11: "));
    CHECK(contains(e, "route names unknown pool \"Web\"; defined pools: web, api"));
  }
}

TEST_CASE("route host is exact or a wildcard domain - and path_prefix starts with a slash") {
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { host: \"api.*.com\", pool: web }\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e,
                   "routes[0].host \"api.*.com\" may only use '*' as its whole first label, like "
                   "*.example.com"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { host: \"*\", pool: web }\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e, "routes[0].host \"*\" may only use '*' as its whole first label"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { host: \"*example.com\", pool: web }\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e, "routes[0].host \"*example.com\" may only use '*' as its whole first label"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { host: \"example.com:8080\", pool: web }\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e,
                   "routes[0].host \"example.com:8080\" must be a hostname like api.example.com or "
                   "*.example.com"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { host: \"\", pool: web }\n");
    CHECK(starts_with(e, "t.yaml:3:13: "));
    CHECK(contains(e, "routes[0].host must not be empty"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] }, api: { backends: [ { "
        "address: 127.0.0.1:9101 } ] } }\n"
        "routes:\n"
        "  - { path_prefix: v1, pool: web }\n");
    CHECK(starts_with(e, "t.yaml:3:20: "));
    CHECK(contains(e, "routes[0].path_prefix must start with '/', like /v1; got \"v1\""));
  }
}

TEST_CASE("cluster: unknown keys - node_id required") {
  {
    auto e = only_error(after_minimal("cluster: { node_id: lb-1, gossip: 1s }\n"));
    CHECK(starts_with(e, "t.yaml:7:27: "));
    CHECK(contains(e,
                   "unknown key \"gossip\" in cluster; expected one of: node_id, peers, "
                   "gossip_interval, vote_ttl"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  peers: []\n"));
    CHECK(starts_with(e, "t.yaml:8:3: "));
    CHECK(contains(
        e, "missing cluster.node_id; add node_id: with this replica's id, like node_id: lb-1"));
  }
  {
    auto e = only_error(after_minimal("cluster:\n"));
    CHECK(starts_with(e, "t.yaml:7:1: "));
    CHECK(contains(e, "missing cluster.node_id"));
  }
  {
    auto e = only_error(after_minimal("cluster: { node_id: \"\" }\n"));
    CHECK(starts_with(e, "t.yaml:7:21: "));
    CHECK(contains(e, "cluster.node_id must not be empty"));
  }
  {
    auto e = only_error(after_minimal("cluster: lb-1\n"));
    CHECK(starts_with(e, "t.yaml:7:10: "));
    CHECK(contains(e,
                   "cluster must be a map of key: value (one of: node_id, peers, gossip_interval, "
                   "vote_ttl, max_clock_offset), got \"lb-1\""));
  }
}

TEST_CASE("cluster peers: shape - unique ids other than node_id - unique addresses") {
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers: [ { id: lb-2, adress: 127.0.0.1:9902 } ]\n"));
    CHECK(starts_with(e, "t.yaml:9:24: "));
    CHECK(contains(e, "unknown key \"adress\" in cluster.peers[0]; expected one of: id, address"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers: [ { id: lb-2 } ]\n"));
    CHECK(starts_with(e, "t.yaml:9:12: "));
    CHECK(contains(e,
                   "missing cluster.peers[0].address; each peer needs address: host:port of its "
                   "admin listener"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers: [ { address: 127.0.0.1:9902 } ]\n"));
    CHECK(starts_with(e, "t.yaml:9:12: "));
    CHECK(contains(e, "missing cluster.peers[0].id; each peer needs id: (its node_id)"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers:\n"
                                 "    - { id: lb-1, address: 127.0.0.1:9902 }\n"));
    CHECK(starts_with(e, "t.yaml:10:13: "));
    CHECK(contains(e,
                   "cluster.peers[0].id \"lb-1\" is this replica's own node_id; list only the "
                   "other replicas"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers:\n"
                                 "    - { id: lb-2, address: 127.0.0.1:9902 }\n"
                                 "    - { id: lb-2, address: 127.0.0.1:9903 }\n"));
    CHECK(starts_with(e, "t.yaml:11:13: "));
    CHECK(contains(
        e, "peer id \"lb-2\" is used twice (first at line 10); give every peer its own id"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers:\n"
                                 "    - { id: lb-2, address: 127.0.0.1:9902 }\n"
                                 "    - { id: lb-3, address: 127.0.0.1:9902 }\n"));
    CHECK(starts_with(e, "t.yaml:11:28: "));
    CHECK(contains(e,
                   "peer address \"127.0.0.1:9902\" is listed twice (first at line 10); each peer "
                   "has its own admin listener"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers:\n"
                                 "    - { id: lb-2, address: 127.0.0.1:0 }\n"));
    CHECK(starts_with(e, "t.yaml:10:28: "));
    CHECK(contains(
        e, "bad address \"127.0.0.1:0\": port 0 is only allowed for listen and admin.listen"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  peers: { id: lb-2, address: 127.0.0.1:9902 }\n"));
    CHECK(starts_with(e, "t.yaml:9:10: "));
    CHECK(contains(
        e,
        "cluster.peers must be a list, like [ { id: lb-2, address: 127.0.0.1:9902 } ], got a map"));
  }
}

TEST_CASE("cluster timing: gossip_interval positive - vote_ttl longer than gossip_interval") {
  {
    auto e = only_error(after_minimal("cluster: { node_id: lb-1, gossip_interval: 0ms }\n"));
    CHECK(starts_with(e, "t.yaml:7:44: "));
    CHECK(contains(
        e, "cluster.gossip_interval must be greater than 0 and at most 8760h, got \"0ms\""));
  }
  {
    auto e = only_error(
        after_minimal("cluster: { node_id: lb-1, gossip_interval: 1s, vote_ttl: 1s }\n"));
    CHECK(starts_with(e, "t.yaml:7:58: "));
    CHECK(contains(e,
                   "cluster.vote_ttl (1s) must be longer than gossip_interval (1s), or votes would "
                   "expire before the next gossip round refreshes them"));
  }
  {
    auto e =
        only_error(after_minimal("cluster:\n"
                                 "  node_id: lb-1\n"
                                 "  gossip_interval: 5s\n"));
    CHECK(starts_with(e, "t.yaml:9:20: "));
    CHECK(contains(e, "cluster.vote_ttl (3s) must be longer than gossip_interval (5s)"));
  }
}

TEST_CASE("checkpoint: unknown keys - path not empty - interval positive") {
  {
    auto e = only_error(after_minimal("checkpoint: { path: ./s.json, every: 5s }\n"));
    CHECK(starts_with(e, "t.yaml:7:31: "));
    CHECK(contains(e, "unknown key \"every\" in checkpoint; expected one of: path, interval"));
  }
  {
    auto e = only_error(after_minimal("checkpoint: { path: \"\" }\n"));
    CHECK(starts_with(e, "t.yaml:7:21: "));
    CHECK(contains(e, "checkpoint.path must not be empty"));
  }
  {
    auto e =
        only_error(after_minimal("checkpoint:\n"
                                 "  interval: 0s\n"));
    CHECK(starts_with(e, "t.yaml:8:13: "));
    CHECK(contains(e, "checkpoint.interval must be greater than 0 and at most 8760h, got \"0s\""));
  }
}
