// Errors in the top level and its small sections: admin, timeouts, limits, access_log.
// Each check places the error exactly: t.yaml:LINE:COL of the offending key or value.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace tally::config::test;

TEST_CASE("unknown keys are reported at the key - with the keys that are allowed") {
  {
    auto e = only_error(after_minimal("listn: 127.0.0.1:8080\n"));
    CHECK(starts_with(e, "t.yaml:7:1: "));
    CHECK(contains(e,
                   "unknown key \"listn\" in top level; expected one of: listen, admin, workers, "
                   "log, timeouts, limits, access_log, pools, routes, cluster, checkpoint"));
  }
  {
    auto e = only_error(after_minimal("admin: { listen: 127.0.0.1:9902, tokn: x }\n"));
    CHECK(starts_with(e, "t.yaml:7:34: "));
    CHECK(contains(e, "unknown key \"tokn\" in admin; expected one of: listen, token"));
  }
  {
    auto e =
        only_error(after_minimal("timeouts:\n"
                                 "  connect: 1s\n"
                                 "  idel: 5s\n"));
    CHECK(starts_with(e, "t.yaml:9:3: "));
    CHECK(contains(e,
                   "unknown key \"idel\" in timeouts; expected one of: connect, request_header, "
                   "idle, upstream_response, drain"));
  }
  {
    auto e = only_error(after_minimal("limits: { max_headers: 1KiB }\n"));
    CHECK(starts_with(e, "t.yaml:7:11: "));
    CHECK(contains(e,
                   "unknown key \"max_headers\" in limits; expected one of: max_header_bytes, "
                   "max_body_bytes, max_connections"));
  }
  {
    auto e = only_error(after_minimal("access_log: { enable: true }\n"));
    CHECK(starts_with(e, "t.yaml:7:15: "));
    CHECK(contains(e, "unknown key \"enable\" in access_log; expected one of: enabled, path"));
  }
}

TEST_CASE("a misspelled required key is reported once - as unknown - not also as missing") {
  {
    auto e = only_error(
        "pool:\n"
        "  web: { backends: [ { address: 127.0.0.1:9001 } ] }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:1:1: "));
    CHECK(contains(e, "unknown key \"pool\" in top level; expected one of:"));
  }
}

TEST_CASE("a key written twice is reported at the second one") {
  {
    auto e =
        only_error(after_minimal("workers: 1\n"
                                 "workers: 2\n"));
    CHECK(starts_with(e, "t.yaml:8:1: "));
    CHECK(contains(
        e, "key \"workers\" is written twice in top level (first at line 7); keep only one"));
  }
}

TEST_CASE("wrong types: a map or list where a single value belongs - and the reverse") {
  {
    auto e = only_error(after_minimal("listen: { host: 127.0.0.1 }\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(contains(e,
                   "listen must be an address host:port, like 127.0.0.1:8080, or a non-empty "
                   "list of listeners, like [ { address: 0.0.0.0:443, tls: "));
    CHECK(contains(e, "; got a map"));
  }
  {
    auto e = only_error(after_minimal("timeouts: 5s\n"));
    CHECK(starts_with(e, "t.yaml:7:11: "));
    CHECK(contains(e,
                   "timeouts must be a map of key: value (one of: connect, request_header, idle, "
                   "upstream_response, drain, shutdown_delay), got \"5s\""));
  }
  {
    auto e = only_error(after_minimal("admin: { token: [a, b] }\n"));
    CHECK(starts_with(e, "t.yaml:7:17: "));
    CHECK(contains(e, "admin.token must be a single value, got a list"));
  }
  {
    auto e = only_error(after_minimal("workers:\n"));
    CHECK(starts_with(e, "t.yaml:7:1: "));
    CHECK(contains(e, "workers must be a whole number between 0 and 256, got nothing"));
  }
}

TEST_CASE("workers is a whole number from 0 to 256") {
  {
    auto e = only_error(after_minimal("workers: 257\n"));
    CHECK(starts_with(e, "t.yaml:7:10: "));
    CHECK(contains(e, "workers must be between 0 and 256, got \"257\""));
  }
  {
    auto e = only_error(after_minimal("workers: -1\n"));
    CHECK(starts_with(e, "t.yaml:7:10: "));
    CHECK(contains(e, "workers must be a whole number between 0 and 256, got \"-1\""));
  }
  {
    auto e = only_error(after_minimal("workers: 1.5\n"));
    CHECK(starts_with(e, "t.yaml:7:10: "));
    CHECK(contains(e, "workers must be a whole number between 0 and 256, got \"1.5\""));
  }
  {
    auto e = only_error(after_minimal("workers: yes\n"));
    CHECK(starts_with(e, "t.yaml:7:10: "));
    CHECK(contains(e, "workers must be a whole number between 0 and 256, got \"yes\""));
  }
  {
    auto e = only_error(after_minimal("workers: 99999999999999999999\n"));
    CHECK(starts_with(e, "t.yaml:7:10: "));
    CHECK(contains(e, "workers must be a whole number between 0 and 256"));
  }
}

TEST_CASE("durations need a whole number and a unit - are positive - and do not overflow") {
  {
    auto e = only_error(after_minimal("timeouts: { connect: 10x }\n"));
    CHECK(starts_with(e, "t.yaml:7:22: "));
    CHECK(contains(
        e, "bad duration \"10x\": use a whole number with ms, s, m or h, like 250ms or 2s"));
  }
  {
    auto e = only_error(after_minimal("timeouts: { idle: 10 }\n"));
    CHECK(starts_with(e, "t.yaml:7:19: "));
    CHECK(contains(e,
                   "bad duration \"10\": use a whole number with ms, s, m or h, like 250ms or 2s"));
  }
  {
    auto e = only_error(after_minimal("timeouts: { drain: 1.5s }\n"));
    CHECK(starts_with(e, "t.yaml:7:20: "));
    CHECK(contains(e, "bad duration \"1.5s\""));
  }
  {
    auto e = only_error(after_minimal("timeouts: { request_header: -1s }\n"));
    CHECK(starts_with(e, "t.yaml:7:29: "));
    CHECK(contains(e, "bad duration \"-1s\""));
  }
  {
    auto e =
        only_error(after_minimal("timeouts:\n"
                                 "  upstream_response: 0ms\n"));
    CHECK(starts_with(e, "t.yaml:8:22: "));
    CHECK(contains(
        e, "timeouts.upstream_response must be greater than 0 and at most 8760h, got \"0ms\""));
  }
  {
    auto e = only_error(after_minimal("timeouts: { connect: 99999999999999999999s }\n"));
    CHECK(starts_with(e, "t.yaml:7:22: "));
    CHECK(contains(e,
                   "timeouts.connect must be greater than 0 and at most 8760h, got "
                   "\"99999999999999999999s\""));
  }
  {
    auto e = only_error(after_minimal("timeouts: { connect: 8761h }\n"));
    CHECK(starts_with(e, "t.yaml:7:22: "));
    CHECK(contains(e, "timeouts.connect must be greater than 0 and at most 8760h, got \"8761h\""));
  }
}

TEST_CASE("limits: header bytes 1KiB..1MiB - body bytes at least 1 - connections 1..1000000") {
  {
    auto e = only_error(after_minimal("limits: { max_header_bytes: 1023 }\n"));
    CHECK(starts_with(e, "t.yaml:7:29: "));
    CHECK(contains(e, "limits.max_header_bytes must be between 1KiB and 1MiB, got \"1023\""));
  }
  {
    auto e = only_error(after_minimal("limits: { max_header_bytes: 2MiB }\n"));
    CHECK(starts_with(e, "t.yaml:7:29: "));
    CHECK(contains(e, "limits.max_header_bytes must be between 1KiB and 1MiB, got \"2MiB\""));
  }
  {
    auto e = only_error(after_minimal("limits: { max_body_bytes: 0 }\n"));
    CHECK(starts_with(e, "t.yaml:7:27: "));
    CHECK(contains(e, "limits.max_body_bytes must be at least 1B, got \"0\""));
  }
  {
    auto e = only_error(after_minimal("limits: { max_body_bytes: 10XB }\n"));
    CHECK(starts_with(e, "t.yaml:7:27: "));
    CHECK(contains(e,
                   "bad size \"10XB\": use a whole number with an optional unit B, KiB, MiB, GiB, "
                   "KB, MB or GB, like 16KiB"));
  }
  {
    auto e = only_error(after_minimal("limits: { max_body_bytes: 99999999999GiB }\n"));
    CHECK(starts_with(e, "t.yaml:7:27: "));
    CHECK(contains(e, "bad size \"99999999999GiB\": is too large; sizes must be below 16EiB"));
  }
  {
    auto e = only_error(after_minimal("limits: { max_connections: 0 }\n"));
    CHECK(starts_with(e, "t.yaml:7:28: "));
    CHECK(contains(e, "limits.max_connections must be between 1 and 1000000, got \"0\""));
  }
  {
    auto e = only_error(after_minimal("limits: { max_connections: 1000001 }\n"));
    CHECK(starts_with(e, "t.yaml:7:28: "));
    CHECK(contains(e, "limits.max_connections must be between 1 and 1000000, got \"1000001\""));
  }
  {
    auto e = only_error(after_minimal("limits: { max_connections: 10KiB }\n"));
    CHECK(starts_with(e, "t.yaml:7:28: "));
    CHECK(contains(
        e, "limits.max_connections must be a whole number between 1 and 1000000, got \"10KiB\""));
  }
}

TEST_CASE("access_log.enabled is a bool and access_log.path is not empty") {
  {
    auto e = only_error(after_minimal("access_log: { enabled: maybe }\n"));
    CHECK(starts_with(e, "t.yaml:7:24: "));
    CHECK(contains(e, "access_log.enabled must be true or false, got \"maybe\""));
  }
  {
    auto e = only_error(after_minimal("access_log: { enabled: 1 }\n"));
    CHECK(starts_with(e, "t.yaml:7:24: "));
    CHECK(contains(e, "access_log.enabled must be true or false, got \"1\""));
  }
  {
    auto e = only_error(after_minimal("access_log: { path: \"\" }\n"));
    CHECK(starts_with(e, "t.yaml:7:21: "));
    CHECK(contains(e, "access_log.path must not be empty"));
  }
}

TEST_CASE("addresses are host:port with a plausible host and a port in range") {
  {
    auto e = only_error(after_minimal("listen: localhost\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(contains(e, "bad address \"localhost\": has no port; write host:port"));
  }
  {
    auto e = only_error(after_minimal("listen: 127.0.0.1:65536\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(contains(
        e, "bad address \"127.0.0.1:65536\": has a port that is not a number from 0 to 65535"));
  }
  {
    auto e = only_error(after_minimal("listen: ::1:8080\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(contains(e,
                   "bad address \"::1:8080\": has an IPv6 address without brackets; write it like "
                   "[::1]:8080"));
  }
  {
    auto e = only_error(after_minimal("listen: \"[::g]:8080\"\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(contains(e, "bad address \"[::g]:8080\": has an invalid IPv6 address in brackets"));
  }
  {
    auto e = only_error(after_minimal("listen: \":8080\"\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(
        contains(e, "bad address \":8080\": has no host; write 0.0.0.0:PORT to use every address"));
  }
  {
    auto e = only_error(after_minimal("admin: { listen: bad_host:9901 }\n"));
    CHECK(starts_with(e, "t.yaml:7:18: "));
    CHECK(contains(
        e,
        "bad address \"bad_host:9901\": has a host that is neither an IP address nor a DNS name"));
  }
  {
    auto e = only_error(after_minimal("listen: 300.1.1.1:80\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(contains(e, "bad address \"300.1.1.1:80\": has a host that is neither"));
  }
}

TEST_CASE("listen and admin.listen must differ - except that port 0 never collides") {
  {
    auto e =
        only_error(after_minimal("listen: 127.0.0.1:8080\n"
                                 "admin: { listen: 127.0.0.1:8080 }\n"));
    CHECK(starts_with(e, "t.yaml:8:18: "));
    CHECK(contains(e,
                   "admin.listen \"127.0.0.1:8080\" is the same address as listen; give the admin "
                   "API its own port"));
  }
  {
    auto e =
        only_error(after_minimal("listen: LOCALHOST:9000\n"
                                 "admin: { listen: localhost:9000 }\n"));
    CHECK(starts_with(e, "t.yaml:8:18: "));
    CHECK(contains(e, "admin.listen \"localhost:9000\" is the same address as listen"));
  }
  {
    auto e = only_error(after_minimal("listen: 127.0.0.1:9901\n"));
    CHECK(starts_with(e, "t.yaml:7:9: "));
    CHECK(contains(e,
                   "listen \"127.0.0.1:9901\" is the address admin.listen uses by default; pick "
                   "another port or set admin.listen"));
  }
}

TEST_CASE("pools and routes are required and not empty") {
  {
    auto e = only_error("routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:1:1: "));
    CHECK(contains(e,
                   "missing pools; add at least one pool, like pools: { web: { backends: [ { "
                   "address: 127.0.0.1:9001 } ] } }"));
  }
  {
    auto e = only_error(
        "pools: {}\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:1:8: "));
    CHECK(contains(e, "pools is empty; add at least one pool, like pools:"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:1:1: "));
    CHECK(contains(e, "pools is empty; add at least one pool"));
  }
  {
    auto e = only_error(
        "pools: [ web ]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:1:8: "));
    CHECK(contains(e, "pools must be a map of pool name to pool, like pools: { web:"));
  }
  {
    auto e = only_error(
        "listen: 127.0.0.1:8000\n"
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] } }\n");
    CHECK(starts_with(e, "t.yaml:1:1: "));
    CHECK(contains(
        e,
        "missing routes; add at least one route, like routes: [ { path_prefix: /, pool: web } ]"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] } }\n"
        "routes: []\n");
    CHECK(starts_with(e, "t.yaml:2:9: "));
    CHECK(contains(e, "routes is empty; add at least one route"));
  }
  {
    auto e = only_error(
        "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] } }\n"
        "routes: { pool: web }\n");
    CHECK(starts_with(e, "t.yaml:2:9: "));
    CHECK(contains(e, "routes must be a list, like [ { path_prefix: /, pool: web } ], got a map"));
  }
}

TEST_CASE("a file that is not a map of settings") {
  {
    auto e = only_error("# only a comment\n");
    CHECK(starts_with(e, "t.yaml:1:1: "));
    CHECK(contains(e, "the file is empty; a config needs at least pools: and routes:"));
  }
  {
    auto e = only_error("- listen: 127.0.0.1:8080\n");
    CHECK(starts_with(e, "t.yaml:1:1: "));
    CHECK(contains(e, "the top level must be a map of key: value (one of: listen, admin"));
  }
  {
    auto e = only_error("just words\n");
    CHECK(starts_with(e, "t.yaml:1:1: "));
    CHECK(contains(e, "the top level must be a map of key: value"));
  }
}

TEST_CASE("log: level and format are words from a fixed list; shutdown_delay is bounded") {
  {
    auto r =
        load(after_minimal("log: { level: debug, format: json }\n"
                           "timeouts: { shutdown_delay: 5s }\n"));
    REQUIRE(r.ok());
    CHECK(r.value->log.level == tally::config::log_level_setting::debug);
    CHECK(r.value->log.format == tally::config::log_format_setting::json);
    CHECK(r.value->timeouts.shutdown_delay == std::chrono::seconds(5));
  }
  {
    auto r = load(minimal_yaml);
    REQUIRE(r.ok());
    CHECK(r.value->log.level == tally::config::log_level_setting::info);
    CHECK(r.value->log.format == tally::config::log_format_setting::text);
    CHECK(r.value->timeouts.shutdown_delay == std::chrono::seconds(0));
  }
  {
    auto e = only_error(after_minimal("log: { level: verbose }\n"));
    CHECK(starts_with(e, "t.yaml:7:15: "));
    CHECK(contains(e, "log.level must be one of: debug, info, warn, error; got \"verbose\""));
  }
  {
    auto e = only_error(after_minimal("log: { format: logfmt }\n"));
    CHECK(contains(e, "log.format must be one of: text, json; got \"logfmt\""));
  }
  {
    auto e = only_error(after_minimal("timeouts: { shutdown_delay: 1h }\n"));
    CHECK(starts_with(e, "t.yaml:7:29: "));
    CHECK(contains(e, "timeouts.shutdown_delay is over 10m"));
  }
  CHECK(load(after_minimal("timeouts: { shutdown_delay: 0s }\n")).ok());
}
