// Errors in a pool's health_check, outlier and retry sections.
// Each check places the error exactly: t.yaml:LINE:COL of the offending key or value.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace tally::config::test;

TEST_CASE("unknown keys in health_check - outlier and retry") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { path: /healthz, intervall: 2s }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:37: "));
    CHECK(contains(e,
                   "unknown key \"intervall\" in pools.web.health_check; expected one of: path, "
                   "interval, timeout, rise, fall, expect_status"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    outlier: { failures: 3 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:16: "));
    CHECK(contains(e,
                   "unknown key \"failures\" in pools.web.outlier; expected one of: "
                   "consecutive_failures, ejection, max_ejected_percent"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry:\n"
        "      attempts: 1\n"
        "      retry_on: [reset]\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:6:7: "));
    CHECK(contains(e,
                   "unknown key \"retry_on\" in pools.web.retry; expected one of: attempts, "
                   "per_try_timeout, on, budget_percent, backoff"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: /healthz\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:19: "));
    CHECK(contains(e,
                   "pools.web.health_check must be a map of key: value (one of: path, interval, "
                   "timeout, rise, fall, expect_status), got \"/healthz\""));
  }
}

TEST_CASE("health_check.path starts with a slash") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { path: healthz }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:27: "));
    CHECK(contains(
        e, "pools.web.health_check.path must start with '/', like /healthz; got \"healthz\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { path: \"\" }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:27: "));
    CHECK(contains(e, "pools.web.health_check.path must not be empty"));
  }
}

TEST_CASE("health_check interval and timeout: positive - and timeout no longer than interval") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { interval: 0s }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:31: "));
    CHECK(contains(
        e, "pools.web.health_check.interval must be greater than 0 and at most 8760h, got \"0s\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { timeout: 0ms }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:30: "));
    CHECK(contains(
        e, "pools.web.health_check.timeout must be greater than 0 and at most 8760h, got \"0ms\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { interval: 1s, timeout: 1500ms }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:44: "));
    CHECK(contains(e,
                   "pools.web.health_check.timeout (1500ms) must not be longer than interval (1s): "
                   "a probe must end before the next one starts"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { interval: 500ms }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:31: "));
    CHECK(contains(e,
                   "pools.web.health_check.timeout (1s) must not be longer than interval (500ms)"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { interval: 2x }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:31: "));
    CHECK(contains(e, "bad duration \"2x\": use a whole number with ms, s, m or h"));
  }
}

TEST_CASE("health_check rise and fall are 1 to 100") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { rise: 0 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:27: "));
    CHECK(contains(e, "pools.web.health_check.rise must be between 1 and 100, got \"0\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { fall: 101 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:27: "));
    CHECK(contains(e, "pools.web.health_check.fall must be between 1 and 100, got \"101\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { fall: two }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:27: "));
    CHECK(contains(
        e, "pools.web.health_check.fall must be a whole number between 1 and 100, got \"two\""));
  }
}

TEST_CASE("health_check.expect_status is statuses or ranges within 100..599") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { expect_status: \"600\" }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:36: "));
    CHECK(contains(e,
                   "pools.web.health_check.expect_status must list statuses or ranges from 100 to "
                   "599 with low <= high, like \"200-399\" or \"200-299,404\"; got \"600\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { expect_status: 99 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:36: "));
    CHECK(contains(e, "got \"99\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { expect_status: \"300-200\" }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:36: "));
    CHECK(contains(e, "got \"300-200\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { expect_status: \"200-299,\" }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:36: "));
    CHECK(contains(e, "got \"200-299,\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { expect_status: \"2xx\" }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:36: "));
    CHECK(contains(e, "got \"2xx\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    health_check: { expect_status: [200, 204] }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:36: "));
    CHECK(contains(e,
                   "pools.web.health_check.expect_status must be statuses like \"200-399\" or "
                   "\"200-299,404\", got a list"));
  }
}

TEST_CASE("outlier values") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    outlier: { consecutive_failures: 0 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:38: "));
    CHECK(contains(
        e, "pools.web.outlier.consecutive_failures must be between 1 and 1000000, got \"0\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    outlier: { ejection: 0s }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:26: "));
    CHECK(contains(
        e, "pools.web.outlier.ejection must be greater than 0 and at most 8760h, got \"0s\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    outlier: { max_ejected_percent: 101 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:37: "));
    CHECK(contains(e,
                   "pools.web.outlier.max_ejected_percent must be between 0 and 100, got \"101\""));
  }
}

TEST_CASE("retry values") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { attempts: 11 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:24: "));
    CHECK(contains(e, "pools.web.retry.attempts must be between 0 and 10, got \"11\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { per_try_timeout: 0s }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:31: "));
    CHECK(contains(
        e, "pools.web.retry.per_try_timeout must be greater than 0 and at most 8760h, got \"0s\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { budget_percent: 150 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:30: "));
    CHECK(contains(e, "pools.web.retry.budget_percent must be between 0 and 100, got \"150\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { backoff: -5ms }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:23: "));
    CHECK(contains(e, "bad duration \"-5ms\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { backoff: 25 }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:23: "));
    CHECK(contains(e, "bad duration \"25\""));
  }
}

TEST_CASE("retry.on is a list of known conditions - 502 may be written as a number or a string") {
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { on: [connect_failure, 500, \"503\"] }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:36: "));
    CHECK(contains(e,
                   "unknown retry condition \"500\" in pools.web.retry.on; expected any of: "
                   "connect_failure, reset, timeout, 502, 503, 504"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry:\n"
        "      on:\n"
        "        - reset\n"
        "        - timeouts\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:7:11: "));
    CHECK(contains(e, "unknown retry condition \"timeouts\" in pools.web.retry.on"));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { on: reset }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:18: "));
    CHECK(contains(e,
                   "pools.web.retry.on must be a list, like [connect_failure, reset, timeout, "
                   "\"502\", \"503\", \"504\"], got \"reset\""));
  }
  {
    auto e = only_error(
        "pools:\n"
        "  web:\n"
        "    backends: [ { address: 127.0.0.1:9001 } ]\n"
        "    retry: { on: [ { reset: 1 } ] }\n"
        "routes: [ { pool: web } ]\n");
    CHECK(starts_with(e, "t.yaml:4:20: "));
    CHECK(contains(e, "pools.web.retry.on must list words like reset or \"502\", got a map"));
  }
}
