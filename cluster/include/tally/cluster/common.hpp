// Names shared by every cluster component: the key of a backend across replicas and the clock
// types that are injected so tests can step time instead of sleeping.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace tally::cluster {

// A backend as every replica names it: the pool and the address exactly as configured. Replicas
// share a config file, so these strings are the same on all of them.
struct backend_key {
  std::string pool;
  std::string backend;
  auto operator<=>(const backend_key&) const = default;
};

using steady_time = std::chrono::steady_clock::time_point;
// Monotonic time of this process: vote freshness and peer liveness are measured with it only, so
// clock skew between machines never matters.
using steady_clock_fn = std::function<steady_time()>;
// Wall-clock milliseconds since the Unix epoch: HLC physical part and displayed since-times.
using system_ms_fn = std::function<std::int64_t()>;

inline steady_time default_steady_now() {
  return std::chrono::steady_clock::now();
}
inline std::int64_t default_system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tally::cluster
