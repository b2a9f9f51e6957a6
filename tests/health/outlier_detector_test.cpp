#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "fixtures.hpp"
#include "tally/health/outlier_detector.hpp"

namespace tally::health::test {

namespace {

using time_point = outlier_detector::time_point;
const time_point t0 = time_point{} + 1000s;  // any fixed instant; time is passed in, never read

std::int64_t ns(time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void fail(outlier_detector& d, const balancer::pool& p, std::size_t i, int times, time_point now) {
  for (int k = 0; k < times; ++k)
    d.record(p, i, outcome::failure, now);
}

// Fails backend i until it is ejected at `now`; returns how long the ejection lasts.
std::chrono::nanoseconds eject(outlier_detector& d, const balancer::pool& p, std::size_t i,
                               time_point now) {
  fail(d, p, i, static_cast<int>(p.config().outlier.consecutive_failures), now);
  REQUIRE(p.backends()[i]->ejected());
  return std::chrono::nanoseconds(p.backends()[i]->ejected_until_ns() - ns(now));
}

}  // namespace

TEST_CASE("outlier: consecutive failures eject a backend until a deadline") {
  log_capture log;
  outlier_detector d(log.sink());
  std::vector<time_point> notified;
  d.set_on_ejection([&](time_point until) { notified.push_back(until); });
  const auto pool = outlier_pool(4, 3, 10s, 50);
  const auto& b = *pool->backends()[1];

  fail(d, *pool, 1, 2, t0);
  CHECK_FALSE(b.ejected());
  CHECK(b.consecutive_failures() == 2);
  CHECK_FALSE(d.next_deadline());

  d.record(*pool, 1, outcome::failure, t0);
  CHECK(b.ejected());
  CHECK_FALSE(b.eligible());
  CHECK(b.ejected_until_ns() == ns(t0 + 10s));
  CHECK(d.next_deadline() == t0 + 10s);
  CHECK(notified == std::vector<time_point>{t0 + 10s});
  CHECK(d.ejected_count() == 1);
  CHECK(d.level(b) == 1);
  REQUIRE(log.lines().size() == 1);
  CHECK(log.lines()[0] ==
        "outlier: pool web backend 10.0.0.2:80 ejected for 10s after 3 consecutive failures "
        "(ejection 1)");

  // Failures of requests still in flight do not lengthen the ejection.
  fail(d, *pool, 1, 5, t0 + 1s);
  CHECK(b.ejected_until_ns() == ns(t0 + 10s));
  CHECK(d.ejected_count() == 1);
}

TEST_CASE("outlier: a success resets the failure run") {
  outlier_detector d;
  const auto pool = outlier_pool(4, 3, 10s, 50);
  fail(d, *pool, 0, 2, t0);
  d.record(*pool, 0, outcome::success, t0);
  CHECK(pool->backends()[0]->consecutive_failures() == 0);
  fail(d, *pool, 0, 2, t0);
  CHECK_FALSE(pool->backends()[0]->ejected());
  d.record(*pool, 0, outcome::failure, t0);
  CHECK(pool->backends()[0]->ejected());
}

TEST_CASE("outlier: tick returns a backend at its deadline and resets its failures") {
  log_capture log;
  outlier_detector d(log.sink());
  const auto pool = outlier_pool(4, 3, 10s, 50);
  const auto& b = *pool->backends()[2];
  eject(d, *pool, 2, t0);

  d.tick(t0 + 9999ms);
  CHECK(b.ejected());
  d.tick(t0 + 10s);
  CHECK_FALSE(b.ejected());
  CHECK(b.eligible());
  CHECK(b.ejected_until_ns() == 0);
  CHECK(b.consecutive_failures() == 0);
  CHECK_FALSE(d.next_deadline());
  CHECK(d.ejected_count() == 0);
  CHECK(log.count("outlier: pool web backend 10.0.0.3:80 returned after ejection") == 1);

  // A new full streak is needed to eject it again.
  fail(d, *pool, 2, 2, t0 + 10s);
  CHECK_FALSE(b.ejected());
}

TEST_CASE("outlier: repeated ejections double up to the cap - then decay while healthy") {
  outlier_detector d({}, {.max_ejection = 300s});
  const auto pool = outlier_pool(4, 3, 10s, 50);
  time_point now = t0;
  const std::chrono::seconds expected[] = {10s, 20s, 40s, 80s, 160s, 300s, 300s};
  for (auto want : expected) {
    const auto got = eject(d, *pool, 0, now);
    CHECK(got == want);
    now += got;
    d.tick(now);  // returned, and fails again at once
    REQUIRE_FALSE(pool->backends()[0]->ejected());
  }
  CHECK(d.level(*pool->backends()[0]) == 7);

  // Healthy for 5 base periods: the level drops from 7 to 2, so the next one is the 3rd: 40s.
  now += 50s;
  CHECK(eject(d, *pool, 0, now) == 40s);
  now += 40s;
  d.tick(now);

  // Healthy long enough to decay fully: forgotten, next ejection is the base again.
  now += 30s;
  d.tick(now);
  CHECK(d.level(*pool->backends()[0]) == 0);
  CHECK(eject(d, *pool, 0, now) == 10s);
}

TEST_CASE("outlier: ejection_for") {
  CHECK(outlier_detector::ejection_for(30s, 1, 300s) == 30s);
  CHECK(outlier_detector::ejection_for(30s, 2, 300s) == 60s);
  CHECK(outlier_detector::ejection_for(30s, 4, 300s) == 240s);
  CHECK(outlier_detector::ejection_for(30s, 5, 300s) == 300s);
  CHECK(outlier_detector::ejection_for(30s, 1000000, 300s) == 300s);
  CHECK(outlier_detector::ejection_for(400s, 3, 300s) == 400s);  // a base above the cap stands
}

TEST_CASE("outlier: never ejects more than max_ejected_percent of a pool") {
  log_capture log;
  outlier_detector d(log.sink());
  const auto pool = outlier_pool(4, 3, 10s, 50);
  for (std::size_t i = 0; i < 4; ++i)
    fail(d, *pool, i, 6, t0 + std::chrono::seconds(i));
  CHECK(d.ejected_count() == 2);
  CHECK(pool->backends()[0]->ejected());
  CHECK(pool->backends()[1]->ejected());
  CHECK_FALSE(pool->backends()[2]->ejected());
  CHECK_FALSE(pool->backends()[3]->ejected());
  CHECK(pool->eligible_count() == 2);
  // The blocked ejection is logged once per streak, not per failure.
  CHECK(log.count("backend 10.0.0.3:80 not ejected after 3 consecutive failures: 2 of 4 "
                  "backends already ejected (max_ejected_percent 50)") == 1);
  CHECK(log.count("not ejected") == 2);

  // Once a slot frees up, the next failure of a still-failing backend takes it.
  d.tick(t0 + 10s);
  CHECK(d.ejected_count() == 1);  // backend 0 returned; backend 1 ends at t0 + 11s
  d.record(*pool, 2, outcome::failure, t0 + 10s);
  CHECK(pool->backends()[2]->ejected());
  d.record(*pool, 3, outcome::failure, t0 + 10s);
  CHECK_FALSE(pool->backends()[3]->ejected());
  CHECK(d.ejected_count() == 2);
}

TEST_CASE("outlier: a cap that rounds to zero backends ejects none") {
  outlier_detector d;
  const auto single = outlier_pool(1, 3, 10s, 50);  // floor(1 × 50%) = 0
  fail(d, *single, 0, 10, t0);
  CHECK_FALSE(single->backends()[0]->ejected());
  const auto three = outlier_pool(3, 3, 10s, 30);  // floor(0.9) = 0
  fail(d, *three, 0, 10, t0);
  CHECK_FALSE(three->backends()[0]->ejected());
  const auto ten = outlier_pool(10, 3, 10s, 10);  // 1
  fail(d, *ten, 0, 3, t0);
  fail(d, *ten, 1, 3, t0);
  CHECK(ten->backends()[0]->ejected());
  CHECK_FALSE(ten->backends()[1]->ejected());
}

TEST_CASE("outlier: pools without an outlier section never eject") {
  outlier_detector d;
  const auto pool = outlier_pool(4, 3, 10s, 50, /*configured=*/false);
  fail(d, *pool, 0, 20, t0);
  CHECK_FALSE(pool->backends()[0]->ejected());
  CHECK(pool->backends()[0]->consecutive_failures() == 0);
  d.record(*pool, 99, outcome::failure, t0);  // out of range: ignored
}

TEST_CASE("outlier: concurrent record from 4 threads stays consistent with the cap") {
  outlier_detector d;
  const auto pool = outlier_pool(8, 5, 10s, 50);  // at most 4 of 8
  std::atomic<bool> go{false};
  std::atomic<bool> done{false};
  std::atomic<std::size_t> worst{0};

  // An observer checks the invariant while the workers race, through the locked count.
  std::thread observer([&] {
    while (!done.load()) {
      const auto n = d.ejected_count();
      if (n > worst.load()) worst.store(n);
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      while (!go.load()) {
      }
      for (int round = 0; round < 2000; ++round) {
        const auto now = t0 + std::chrono::milliseconds(round);
        for (std::size_t i = 0; i < 8; ++i) {
          // Every worker sees every backend fail, with an occasional success mixed in.
          const bool ok = (round + w + static_cast<int>(i)) % 97 == 0;
          d.record(*pool, i, ok ? outcome::success : outcome::failure, now);
        }
        if (w == 0 && round % 500 == 249) d.tick(now + 10s);  // returns everyone midway
      }
    });
  }
  go.store(true);
  for (auto& t : workers)
    t.join();
  done.store(true);
  observer.join();

  CHECK(worst.load() <= 4);
  std::size_t flagged = 0;
  for (const auto& b : pool->backends()) {
    if (b->ejected()) {
      ++flagged;
      CHECK(b->ejected_until_ns() != 0);
    } else {
      CHECK(b->ejected_until_ns() == 0);
    }
  }
  CHECK(flagged == d.ejected_count());
  CHECK(flagged == 4);  // everyone keeps failing, so the cap is reached
}

}  // namespace tally::health::test
