// Passive outlier ejection: the proxy reports each upstream exchange's outcome; a backend with
// `consecutive_failures` failures in a row is ejected for `ejection × 2^(level − 1)` (capped),
// never more than `max_ejected_percent` of its pool at once. Pure logic with the time passed in:
// no timers inside. The caller arms one timer for next_deadline() and calls tick() when it fires.
//
// Threading: record() is called by every worker at once. The common path touches only the
// backend's own atomics (its consecutive-failure counter and ejected flag). The ejection
// decision — reached only when a backend hits the threshold, so at most a few times per streak
// — and tick() take one mutex, which makes the pool cap exact: two workers can never both take
// the last free ejection slot.
//
// Choices, documented because operators coming from Envoy may expect otherwise:
// * The cap is floor(pool size × max_ejected_percent / 100). When that is 0 (a pool of one at
//   50%, or max_ejected_percent 0) nothing is ejected; Envoy ejects at least one host, but
//   ejecting the only healthy backend turns slow errors into certain 503s.
// * The level (how many times in a row a backend was ejected) drops by one for every base
//   `ejection` period the backend spends un-ejected, computed when it is next ejected, so a
//   backend that fails again right after returning is ejected twice as long, and one that served
//   well for a while starts from the base duration again.
// * Un-ejection resets the backend's consecutive-failure count, so it needs a full new streak of
//   failures to be ejected again.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tally/balancer/pool.hpp"

namespace tally::health {

// The caller classifies: connect errors, resets, timeouts and 5xx responses are failures.
enum class outcome { success, failure };

struct outlier_options {
  // No single ejection lasts longer than this (Envoy's max_ejection_time), unless the pool's base
  // `ejection` is itself longer, in which case the base is used unchanged.
  std::chrono::milliseconds max_ejection{300000};
};

class outlier_detector {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using log_fn = std::function<void(std::string_view)>;
  // Called after each ejection, on the recording thread and outside the lock, with the moment
  // the ejection ends: post to the loop that owns the tick timer and re-arm it if earlier.
  using ejection_fn = std::function<void(time_point until)>;

  // `log` (may be empty) receives one line per ejection, return and blocked ejection; it is
  // called from worker threads, so it must be thread-safe.
  explicit outlier_detector(log_fn log = {}, outlier_options options = {});

  outlier_detector(const outlier_detector&) = delete;
  outlier_detector& operator=(const outlier_detector&) = delete;

  // Set before workers call record(); not synchronised with it.
  void set_on_ejection(ejection_fn f) { on_ejection_ = std::move(f); }

  // Reports one exchange with pool.backends()[index] (pool from the snapshot the request used).
  // Does nothing for pools without an outlier section. Safe from any thread.
  void record(const balancer::pool& pool, std::size_t index, outcome o, time_point now);

  // Returns every backend whose ejection ended at or before `now`. Safe from any thread.
  void tick(time_point now);

  // When the earliest current ejection ends; nullopt when nothing is ejected.
  std::optional<time_point> next_deadline() const;

  std::size_t ejected_count() const;
  // The level the backend's next ejection would start from before decay (0 = never ejected or
  // fully decayed and forgotten); for /status and tests.
  unsigned level(const balancer::backend& b) const;

  // Ejection length for `level` (1 = first): base × 2^(level − 1), capped (see outlier_options).
  static std::chrono::milliseconds ejection_for(std::chrono::milliseconds base, unsigned level,
                                                std::chrono::milliseconds max_ejection);

 private:
  struct ejection {
    std::shared_ptr<balancer::backend> backend;
    std::string pool;
    time_point until;
  };
  struct history {
    unsigned level = 0;
    time_point last_until{};  // when the last ejection ended (or will end)
    std::chrono::milliseconds base{0};
  };

  // Decides, under the lock, whether `b` is ejected now; returns the log line (may be empty).
  std::string try_eject(const balancer::pool& pool, const std::shared_ptr<balancer::backend>& b,
                        std::uint32_t failures, time_point now, time_point& until);

  log_fn log_;
  outlier_options options_;
  ejection_fn on_ejection_;
  mutable std::mutex mutex_;
  std::vector<ejection> ejected_;                       // guarded by mutex_
  std::unordered_map<std::uint64_t, history> history_;  // by backend id; guarded by mutex_
};

}  // namespace tally::health
