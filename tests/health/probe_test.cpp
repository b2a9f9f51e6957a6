#include <doctest/doctest.h>

#include <cctype>
#include <map>

#include "fixtures.hpp"
#include "support/backend_fixture.hpp"
#include "support/ports.hpp"

namespace tally::health::test {

TEST_CASE("probe: a healthy backend answers 200") {
  tally::test::backend_set backends(1);
  const probe_result r = run_probe(backends.port(0), check_config());
  CHECK(r.ok);
  CHECK(r.status == 200);
  CHECK(r.reason == "status 200");
}

TEST_CASE("probe: sends Host - Connection: close and the tally user agent") {
  tally::test::backend_set backends(1);
  REQUIRE(run_probe(backends.port(0), check_config()).ok);
  std::map<std::string, std::string> headers;
  for (auto& [name, value] : backends.backend(0).last_request_headers()) {
    std::string lower;
    for (char c : name)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    headers[lower] = value;
  }
  CHECK(headers["host"] == backends.address(0));
  CHECK(headers["connection"] == "close");
  CHECK(headers["user-agent"] == "tally-health-check");
}

TEST_CASE("probe: a failing health endpoint gives its status as the reason") {
  tally::test::backend_set backends(1);
  backends.backend(0).set_healthy(false);
  const probe_result r = run_probe(backends.port(0), check_config());
  CHECK_FALSE(r.ok);
  CHECK(r.status == 503);
  CHECK(r.reason == "status 503");
}

TEST_CASE("probe: a closed port is a connect failure") {
  const probe_result r = run_probe(tally::test::unused_port(), check_config());
  CHECK_FALSE(r.ok);
  CHECK(r.status == 0);
  CHECK(r.reason == "connect: Connection refused");
}

TEST_CASE("probe: a backend that never answers times out after `timeout`") {
  tally::test::backend_set backends(1);
  const auto start = steady::now();
  const probe_result r = run_probe(backends.port(0), check_config("/delay/5000", 200ms));
  const auto took = steady::now() - start;
  CHECK_FALSE(r.ok);
  CHECK(r.status == 0);
  CHECK(r.reason == "timeout after 200ms");
  // The reason proves the probe gave up before the 5 s answer; a timer never fires early, so only
  // a lower bound on the time holds on a loaded machine.
  CHECK(took >= 190ms);
}

TEST_CASE("probe: expect_status ranges decide what counts as healthy") {
  tally::test::backend_set backends(1);
  auto cfg = check_config("/status/404");
  CHECK_FALSE(run_probe(backends.port(0), cfg).ok);  // default 200-399

  cfg.expect_status = {{200, 299}, {404, 404}};
  const probe_result r = run_probe(backends.port(0), cfg);
  CHECK(r.ok);
  CHECK(r.reason == "status 404");

  cfg.path = "/status/302";
  CHECK_FALSE(run_probe(backends.port(0), cfg).ok);
  cfg.path = "/status/204";
  CHECK(run_probe(backends.port(0), cfg).ok);
}

TEST_CASE("probe: status_expected checks inclusive bounds of every range") {
  const std::vector<config::status_range> ranges{{200, 299}, {404, 404}};
  CHECK(status_expected(200, ranges));
  CHECK(status_expected(299, ranges));
  CHECK_FALSE(status_expected(300, ranges));
  CHECK_FALSE(status_expected(199, ranges));
  CHECK(status_expected(404, ranges));
  CHECK_FALSE(status_expected(405, ranges));
  CHECK_FALSE(status_expected(200, {}));
}

}  // namespace tally::health::test
