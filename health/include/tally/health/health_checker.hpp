// The scheduler of active health checks: one coroutine per target on the control loop probes
// every `interval`, folds each result into the target's rise/fall state and, on a flip, updates
// the backend's atomics and logs the transition once. The state machine (rise_fall.hpp) and the
// probe (probe.hpp) live in their own files (STYLE practice 8).
//
// Threading: every member function must be called on the thread that runs `ioc` (the control
// loop), or while it is not running, like Beast's sessions. The callbacks run on that thread
// too; they must not call set_targets() or stop() re-entrantly.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tally/health/health_target.hpp"
#include "tally/health/probe.hpp"
#include "tally/health/rise_fall.hpp"

namespace tally::health {

namespace detail {
struct checker_shared;
struct checker_target;
}  // namespace detail

struct health_checker_options {
  // Seeds the first-probe jitter; 0 draws a seed from std::random_device. Tests pin it.
  std::uint64_t seed = 0;
  // A new target's first probe waits a uniform random part of [0, first_probe_jitter × interval)
  // so a hundred backends loaded at once do not probe in lockstep. 0 = probe immediately.
  double first_probe_jitter = 1.0;
};

// How long a new target waits before its first probe: a uniform draw from
// [0, jitter × interval), or zero when that range is under one tick. Pure, so tests can replay
// the draws of a checker seeded like theirs.
std::chrono::steady_clock::duration first_probe_delay(std::mt19937_64& rng, double jitter,
                                                      std::chrono::milliseconds interval);

// A target's state as /status shows it.
struct target_status {
  std::string pool;
  std::string address;
  bool up = true;            // the active-check verdict (the backend's local_up)
  unsigned successes = 0;    // current run of consecutive successes
  unsigned failures = 0;     // current run of consecutive failures
  std::uint64_t checks = 0;  // probes completed since the target was first watched
  bool last_ok = false;
  std::string last_reason;                                           // empty before the first probe
  std::optional<std::chrono::steady_clock::time_point> last_check;   // injected clock
  std::optional<std::chrono::steady_clock::time_point> last_change;  // last flip, injected clock
};

class health_checker {
 public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
  using log_fn = std::function<void(std::string_view)>;
  // Every completed probe (tally_health_checks_total{pool,backend,result}).
  using result_fn =
      std::function<void(std::string_view pool, const balancer::backend&, const probe_result&)>;
  // Every flip of a backend's local verdict (cluster gossip may want to send votes at once).
  using transition_fn =
      std::function<void(std::string_view pool, const balancer::backend&, bool up)>;

  // `clock` stamps last_check/last_change (the probe schedule itself runs on steady_timers);
  // `log` receives one line per transition.
  health_checker(boost::asio::io_context& ioc, clock_fn clock, log_fn log,
                 health_checker_options options = {});
  // Stops every probe; in-flight coroutines that resume later touch nothing but state they own.
  ~health_checker();

  health_checker(const health_checker&) = delete;
  health_checker& operator=(const health_checker&) = delete;

  void set_on_result(result_fn f);
  void set_on_transition(transition_fn f);

  // In a cluster of one the cluster verdict is the local verdict, so a flip also sets
  // backend->set_up(). The cluster component clears this and sets `up` from votes instead.
  void set_verdict_follows_local(bool follows);

  // Replaces the set of checked targets (at start and on every reload). A target whose backend
  // object was already watched keeps its rise/fall runs and its schedule (its endpoint, pool
  // name and settings are updated; a new interval applies from the next probe). A new target
  // starts from the backend's current local_up() — which a checkpoint may have restored — and
  // probes after its jitter. A removed target stops; if its backend was down it is marked up
  // again, since an unchecked backend is up (SPEC). Duplicates and null backends are ignored.
  void set_targets(std::vector<health_target> targets);

  // Cancels every probe and timer. Idempotent; set_targets() after stop() does nothing.
  void stop();

  std::vector<target_status> status() const;
  std::optional<target_status> status_of(const balancer::backend& b) const;
  std::size_t size() const { return targets_.size(); }

 private:
  void start(const std::shared_ptr<detail::checker_target>& t);
  void retire(const std::shared_ptr<detail::checker_target>& t);

  boost::asio::io_context& ioc_;
  std::shared_ptr<detail::checker_shared> shared_;
  health_checker_options options_;
  std::mt19937_64 rng_;
  bool stopped_ = false;
  std::unordered_map<const balancer::backend*, std::shared_ptr<detail::checker_target>> targets_;
};

}  // namespace tally::health
