// A pool's max_connections and queue: defaults, values read, and errors placed at line:col.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace tally::config::test;
using namespace std::chrono_literals;

namespace {

// A pool whose fourth line is `line`.
std::string pool_with(std::string_view line) {
  return "pools:\n"
         "  web:\n"
         "    backends: [ { address: 127.0.0.1:9001 } ]\n" +
         std::string(line) + "\nroutes: [ { pool: web } ]\n";
}

}  // namespace

TEST_CASE("max_connections and queue default to unlimited - 1000 waiters - 1s") {
  auto r = load(minimal_yaml);
  REQUIRE(r.ok());
  const auto& web = r.value->pools.at(0);
  CHECK(web.max_connections == 0);
  CHECK(web.queue.max == 1000);
  CHECK(web.queue.timeout == 1s);
}

TEST_CASE("max_connections and queue are read") {
  auto r = load(pool_with("    max_connections: 8\n    queue: { max: 0, timeout: 250ms }"));
  REQUIRE(r.ok());
  const auto& web = r.value->pools.at(0);
  CHECK(web.max_connections == 8);
  CHECK(web.queue.max == 0);
  CHECK(web.queue.timeout == 250ms);

  auto partial = load(pool_with("    queue: { timeout: 1m }"));
  REQUIRE(partial.ok());
  CHECK(partial.value->pools.at(0).queue.max == 1000);
  CHECK(partial.value->pools.at(0).queue.timeout == 1min);
}

TEST_CASE("max_connections is a whole number from 0 to 1000000") {
  {
    auto e = only_error(pool_with("    max_connections: -1"));
    CHECK(starts_with(e, "t.yaml:4:22: "));
    CHECK(contains(e,
                   "pools.web.max_connections must be a whole number between 0 and 1000000, "
                   "got \"-1\""));
  }
  {
    auto e = only_error(pool_with("    max_connections: 1000001"));
    CHECK(starts_with(e, "t.yaml:4:22: "));
    CHECK(contains(e, "pools.web.max_connections must be between 0 and 1000000, got \"1000001\""));
  }
  {
    auto e = only_error(pool_with("    max_connections: 10KiB"));
    CHECK(starts_with(e, "t.yaml:4:22: "));
    CHECK(contains(e, "got \"10KiB\""));
  }
}

TEST_CASE("queue.max is 0 to 1000000 and queue.timeout is positive and at most 1m") {
  {
    auto e = only_error(pool_with("    queue: { max: -5 }"));
    CHECK(starts_with(e, "t.yaml:4:19: "));
    CHECK(contains(e,
                   "pools.web.queue.max must be a whole number between 0 and 1000000, got \"-5\""));
  }
  {
    auto e = only_error(pool_with("    queue: { max: 99999999999 }"));
    CHECK(starts_with(e, "t.yaml:4:19: "));
    CHECK(contains(e, "pools.web.queue.max must be between 0 and 1000000, got \"99999999999\""));
  }
  {
    auto e = only_error(pool_with("    queue: { timeout: 0s }"));
    CHECK(starts_with(e, "t.yaml:4:23: "));
    CHECK(contains(e, "pools.web.queue.timeout must be greater than 0"));
  }
  {
    auto e = only_error(pool_with("    queue: { timeout: 2h }"));
    CHECK(starts_with(e, "t.yaml:4:23: "));
    CHECK(contains(e, "pools.web.queue.timeout must be at most 1m, got \"2h\""));
  }
  {
    auto e = only_error(pool_with("    queue: { timeout: soon }"));
    CHECK(starts_with(e, "t.yaml:4:23: "));
    CHECK(contains(e, "bad duration \"soon\""));
  }
}

TEST_CASE("queue is a map of max and timeout") {
  {
    auto e = only_error(pool_with("    queue: { max: 10, wait: 1s }"));
    CHECK(starts_with(e, "t.yaml:4:23: "));
    CHECK(contains(e, "unknown key \"wait\" in pools.web.queue; expected one of: max, timeout"));
  }
  {
    auto e = only_error(pool_with("    queue: 100"));
    CHECK(starts_with(e, "t.yaml:4:12: "));
    CHECK(contains(e,
                   "pools.web.queue must be a map of key: value (one of: max, timeout), got "
                   "\"100\""));
  }
}
