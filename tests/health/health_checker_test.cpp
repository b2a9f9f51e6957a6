#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "fixtures.hpp"
#include "support/backend_fixture.hpp"
#include "support/ports.hpp"
#include "tally/health/health_checker.hpp"

namespace tally::health::test {

namespace {

using backend_ptr = std::shared_ptr<balancer::backend>;

constexpr auto interval = 50ms;

health_target target_for(const backend_ptr& b, std::uint16_t port, std::string pool = "web",
                         std::string path = "/healthz") {
  auto cfg = check_config(std::move(path), 1s);
  cfg.interval = interval;
  cfg.rise = 2;
  cfg.fall = 3;
  return {b, loopback(port), std::move(pool), cfg};
}

backend_ptr make_backend(const tally::test::backend_set& set, std::size_t i) {
  return std::make_shared<balancer::backend>(set.address(i), 1);
}

std::uint64_t checks(const health_checker& c, const backend_ptr& b) {
  auto s = c.status_of(*b);
  return s ? s->checks : 0;
}

health_checker_options no_jitter() {
  return {.seed = 42, .first_probe_jitter = 0};
}

}  // namespace

TEST_CASE("health_checker: down after fall checks - up after rise checks - one log line each") {
  tally::test::backend_set backends(1);
  net::io_context ioc;
  log_capture log;
  health_checker checker(ioc, {}, log.sink(), no_jitter());
  std::map<bool, int> results;
  checker.set_on_result(
      [&](std::string_view pool, const balancer::backend&, const probe_result& r) {
        CHECK(pool == "web");
        ++results[r.ok];
      });
  const auto b = make_backend(backends, 0);
  checker.set_targets({target_for(b, backends.port(0))});

  REQUIRE(run_until(ioc, [&] { return checks(checker, b) >= 2; }));
  CHECK(b->local_up());
  CHECK(b->up());
  CHECK(log.lines().empty());
  CHECK(results[true] >= 2);

  // Counted in probes, not in time: a loaded machine stretches the schedule, not the counts.
  backends.backend(0).set_healthy(false);
  REQUIRE(run_until(ioc, [&] { return !b->local_up(); }));
  CHECK_FALSE(b->up());  // a cluster of one: the verdict follows
  REQUIRE(log.lines().size() == 1);
  CHECK(log.lines()[0] == "health: pool web backend " + backends.address(0) +
                              " is DOWN after 3 failed checks (last: status 503)");
  CHECK(results[false] == 3);
  auto s = checker.status_of(*b);
  REQUIRE(s);
  CHECK_FALSE(s->up);
  CHECK(s->last_reason == "status 503");
  CHECK(s->last_change.has_value());

  const int successes_before = results[true];
  backends.backend(0).set_healthy(true);
  REQUIRE(run_until(ioc, [&] { return b->local_up(); }));
  CHECK(results[true] - successes_before == 2);  // rise
  CHECK(b->up());
  REQUIRE(log.lines().size() == 2);
  CHECK(log.lines()[1] == "health: pool web backend " + backends.address(0) +
                              " is UP after 2 successful checks (last: status 200)");

  // Further checks in the same state log nothing.
  const auto seen = checks(checker, b);
  REQUIRE(run_until(ioc, [&] { return checks(checker, b) >= seen + 4; }));
  CHECK(log.lines().size() == 2);
}

TEST_CASE("health_checker: a closed port goes down with the connect error as the reason") {
  net::io_context ioc;
  log_capture log;
  health_checker checker(ioc, {}, log.sink(), no_jitter());
  const auto port = tally::test::unused_port();
  auto b = std::make_shared<balancer::backend>("127.0.0.1:" + std::to_string(port), 1);
  checker.set_targets({target_for(b, port)});
  REQUIRE(run_until(ioc, [&] { return !b->local_up(); }));
  REQUIRE(log.lines().size() == 1);
  CHECK(log.lines()[0] == "health: pool web backend " + b->address() +
                              " is DOWN after 3 failed checks (last: connect: Connection refused)");
}

TEST_CASE("health_checker: without verdict_follows_local only local_up changes") {
  tally::test::backend_set backends(1);
  net::io_context ioc;
  health_checker checker(ioc, {}, {}, no_jitter());
  checker.set_verdict_follows_local(false);
  const auto b = make_backend(backends, 0);
  backends.backend(0).set_healthy(false);
  checker.set_targets({target_for(b, backends.port(0))});
  REQUIRE(run_until(ioc, [&] { return !b->local_up(); }));
  CHECK(b->up());  // the cluster component owns the verdict
}

TEST_CASE("health_checker: a backend restored down starts down and rises after rise checks") {
  tally::test::backend_set backends(1);
  net::io_context ioc;
  log_capture log;
  std::vector<bool> transitions;
  health_checker checker(ioc, {}, log.sink(), no_jitter());
  checker.set_on_transition(
      [&](std::string_view, const balancer::backend&, bool up) { transitions.push_back(up); });
  const auto b = make_backend(backends, 0);
  b->set_local_up(false);
  b->set_up(false);
  checker.set_targets({target_for(b, backends.port(0))});
  CHECK_FALSE(checker.status_of(*b)->up);
  REQUIRE(run_until(ioc, [&] { return b->local_up(); }));
  CHECK(b->up());
  CHECK(checks(checker, b) == 2);
  CHECK(transitions == std::vector<bool>{true});
  REQUIRE(log.lines().size() == 1);
  CHECK(log.count("is UP after 2 successful checks (last: status 200)") == 1);
}

TEST_CASE(
    "health_checker: set_targets keeps unchanged backends - stops removed ones - starts new") {
  tally::test::backend_set backends(3);
  net::io_context ioc;
  log_capture log;
  health_checker checker(ioc, {}, log.sink(), no_jitter());
  std::map<const balancer::backend*, int> results;
  checker.set_on_result(
      [&](std::string_view, const balancer::backend& b, const probe_result&) { ++results[&b]; });
  const auto b0 = make_backend(backends, 0);
  const auto b1 = make_backend(backends, 1);
  const auto b2 = make_backend(backends, 2);
  backends.backend(0).set_healthy(false);
  checker.set_targets({target_for(b0, backends.port(0)), target_for(b1, backends.port(1))});
  REQUIRE(run_until(ioc, [&] { return !b0->local_up() && checks(checker, b1) >= 1; }));
  const auto before = checks(checker, b0);
  REQUIRE(log.lines().size() == 1);

  // Reload: b0 kept (with new settings), b1 removed, b2 added.
  auto kept = target_for(b0, backends.port(0));
  kept.cfg.rise = 3;
  checker.set_targets({kept, target_for(b2, backends.port(2)), kept /* duplicate: ignored */});
  CHECK(checker.size() == 2);
  CHECK_FALSE(checker.status_of(*b1).has_value());
  auto s0 = checker.status_of(*b0);
  REQUIRE(s0);
  CHECK_FALSE(s0->up);  // state carried over: no new flip, no new log line
  CHECK(s0->checks == before);
  CHECK(s0->failures >= 3);

  const int b1_results = results[b1.get()];
  REQUIRE(run_until(ioc, [&] { return checks(checker, b2) >= 3; }));
  CHECK(results[b1.get()] == b1_results);  // the removed target probes no more
  CHECK(checks(checker, b0) > before);     // the kept one goes on with its schedule
  CHECK_FALSE(b0->local_up());
  CHECK(log.lines().size() == 1);

  // The new rise (3) applies to the kept target.
  backends.backend(0).set_healthy(true);
  REQUIRE(run_until(ioc, [&] { return b0->local_up(); }));
  CHECK(log.count("is UP after 3 successful checks") == 1);

  // Removing a down target marks it up again: an unchecked backend is up.
  backends.backend(2).set_healthy(false);
  REQUIRE(run_until(ioc, [&] { return !b2->local_up(); }));
  checker.set_targets({kept});
  CHECK(b2->local_up());
  CHECK(b2->up());
  CHECK(log.count(b2->address() + " is no longer checked; marked UP") == 1);
}

TEST_CASE("health_checker: first probes are spread by a seeded jitter") {
  constexpr auto jitter_interval = 400ms;
  constexpr std::uint64_t seed = 7;
  // The draws a checker seeded with `seed` makes, one per new target in the order given.
  std::mt19937_64 rng(seed);
  std::vector<steady::duration> delays;
  for (int i = 0; i < 8; ++i)
    delays.push_back(first_probe_delay(rng, 1.0, jitter_interval));
  const auto [min_delay, max_delay] = std::minmax_element(delays.begin(), delays.end());
  CHECK(*min_delay >= 0ms);
  CHECK(*max_delay < jitter_interval);
  CHECK(*max_delay - *min_delay > jitter_interval / 4);  // spread, not lockstep

  net::io_context ioc;
  health_checker checker(ioc, {}, {}, {.seed = seed, .first_probe_jitter = 1.0});
  std::map<const balancer::backend*, steady::time_point> first;
  checker.set_on_result([&](std::string_view, const balancer::backend& b, const probe_result&) {
    first.try_emplace(&b, steady::now());
  });
  std::vector<health_target> targets;
  std::vector<backend_ptr> keep;
  const auto port = tally::test::unused_port();  // refused at once: the probe takes no time
  for (int i = 0; i < 8; ++i) {
    keep.push_back(std::make_shared<balancer::backend>("127.0.0.1:" + std::to_string(i), 1));
    auto t = target_for(keep.back(), port);
    t.cfg.interval = jitter_interval;
    targets.push_back(t);
  }
  const auto start = steady::now();
  checker.set_targets(targets);
  REQUIRE(run_until(ioc, [&] { return first.size() == 8; }));
  // A timer never fires early, so each first probe comes no sooner than its drawn delay; load can
  // only make it later, which this does not bound.
  for (std::size_t i = 0; i < keep.size(); ++i)
    CHECK(first.at(keep[i].get()) - start >= delays[i]);
}

TEST_CASE("health_checker: stop and destruction with probes in flight are safe") {
  tally::test::backend_set backends(1);
  net::io_context ioc;
  int callbacks = 0;
  auto checker = std::make_unique<health_checker>(
      ioc, health_checker::clock_fn{}, [&](std::string_view) { ++callbacks; }, no_jitter());
  checker->set_on_result(
      [&](std::string_view, const balancer::backend&, const probe_result&) { ++callbacks; });
  const auto b = make_backend(backends, 0);
  // The backend holds the answer for 10 minutes and the probe would wait an hour: only the
  // cancellation can end it within this test.
  auto held = target_for(b, backends.port(0), "web", "/delay/600000");
  held.cfg.timeout = std::chrono::hours(1);
  checker->set_targets({held});
  // The probe is waiting for the backend's delayed answer.
  REQUIRE(run_until(ioc, [&] { return backends.backend(0).stats().requests.load() >= 1; }));

  checker->stop();
  checker->stop();                                          // idempotent
  checker->set_targets({target_for(b, backends.port(0))});  // ignored after stop
  CHECK(checker->size() == 0);
  checker.reset();

  // Everything the checker started ends: the io_context runs out of work (the bound is only there
  // so a regression fails instead of hanging the suite).
  ioc.restart();
  ioc.run_for(60s);
  CHECK(ioc.stopped());
  CHECK(callbacks == 0);
  CHECK(b->local_up());
}

TEST_CASE("health_checker: targets_for checks only pools with a health_check section") {
  config::pool_config web;
  web.name = "web";
  web.health_check_configured = true;
  web.health_check.path = "/ready";
  config::pool_config api;
  api.name = "api";
  std::vector<std::unique_ptr<balancer::pool>> pools;
  balancer::backend_list web_backends{std::make_shared<balancer::backend>("10.0.0.1:80", 1),
                                      std::make_shared<balancer::backend>("10.0.0.2:80", 1)};
  pools.push_back(std::make_unique<balancer::pool>(web, web_backends, 1));
  pools.push_back(std::make_unique<balancer::pool>(
      api, balancer::backend_list{std::make_shared<balancer::backend>("10.0.0.3:80", 1)}, 1));
  const std::vector<std::vector<net::ip::tcp::endpoint>> endpoints{{loopback(1001), loopback(1002)},
                                                                   {loopback(1003)}};

  const auto targets = targets_for(pools, endpoints);
  REQUIRE(targets.size() == 2);
  CHECK(targets[0].backend == web_backends[0]);
  CHECK(targets[0].endpoint == loopback(1001));
  CHECK(targets[1].backend == web_backends[1]);
  CHECK(targets[1].pool == "web");
  CHECK(targets[1].cfg.path == "/ready");
}

}  // namespace tally::health::test
