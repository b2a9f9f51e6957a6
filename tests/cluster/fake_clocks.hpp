// Steppable clocks for cluster tests: time moves only when a test says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "tally/cluster/common.hpp"

namespace tally::cluster::test {

struct fake_clocks {
  std::shared_ptr<std::chrono::steady_clock::duration> steady =
      std::make_shared<std::chrono::steady_clock::duration>(std::chrono::hours(1));
  std::shared_ptr<std::int64_t> wall_ms = std::make_shared<std::int64_t>(1'700'000'000'000);

  void advance(std::chrono::milliseconds d) {
    *steady += d;
    *wall_ms += d.count();
  }
  steady_clock_fn steady_fn() const {
    return [s = steady] { return steady_time(*s); };
  }
  system_ms_fn wall_fn() const {
    return [w = wall_ms] { return *w; };
  }
};

}  // namespace tally::cluster::test
