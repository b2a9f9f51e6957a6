#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "tally/health/outlier_ticker.hpp"

namespace tally::health::test {

TEST_CASE("outlier_ticker: returns ejected backends when their ejection ends") {
  net::io_context ioc;
  outlier_detector detector;
  outlier_ticker ticker(ioc, detector);
  ticker.start();
  const auto pool = outlier_pool(4, 2, 100ms, 50);
  const auto& long_one = *pool->backends()[0];
  const auto& short_one = *pool->backends()[1];

  // A long ejection arms the timer far away; a later, shorter one must wake it earlier.
  detector.record(*pool, 0, outcome::failure, steady::now() + 10s);
  detector.record(*pool, 0, outcome::failure, steady::now() + 10s);
  REQUIRE(long_one.ejected());
  ioc.poll();  // the loop starts and arms its timer for the long ejection

  const auto start = steady::now();
  detector.record(*pool, 1, outcome::failure, start);
  detector.record(*pool, 1, outcome::failure, start);
  REQUIRE(short_one.ejected());
  REQUIRE(run_until(
      ioc, [&] { return !short_one.ejected(); }, 3s));
  CHECK(steady::now() - start >= 100ms);
  CHECK(long_one.ejected());
  CHECK(detector.ejected_count() == 1);

  ticker.stop();
  ioc.restart();
  ioc.run_for(1s);  // the loop ends at once once stopped
  CHECK(ioc.stopped());
}

}  // namespace tally::health::test
