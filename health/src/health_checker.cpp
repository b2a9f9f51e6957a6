#include "tally/health/health_checker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "tally/common/use_tuple.hpp"

namespace tally::health {

namespace {

using steady = std::chrono::steady_clock;

// A zero interval would turn a target's loop into a busy loop on the control thread.
constexpr std::chrono::milliseconds min_interval{1};

std::string plural(unsigned n, std::string_view one) {
  return std::to_string(n) + " " + std::string(one) + (n == 1 ? "" : "s");
}

}  // namespace

namespace detail {

// Everything a target's coroutine needs beyond its own state. Shared so that a coroutine resuming
// after the checker is gone never reaches into a destroyed object; it does not run callbacks then,
// because stop() has retired every target first.
struct checker_shared {
  health_checker::clock_fn clock;
  health_checker::log_fn log;
  health_checker::result_fn on_result;
  health_checker::transition_fn on_transition;
  bool verdict_follows_local = true;
};

struct checker_target {
  health_target target;
  rise_fall_state runs;
  // Retired targets (removed on reload, or the checker stopped) never touch a backend again,
  // even if their coroutine is resumed by an operation that completed before the cancel.
  bool retired = false;
  // Cancels the pending timer or probe of this target. Lives here, not in the coroutine, so it
  // outlives every operation the slot is attached to.
  net::cancellation_signal cancel;
  // /status
  std::uint64_t checks = 0;
  bool last_ok = false;
  std::string last_reason;
  std::optional<steady::time_point> last_check;
  std::optional<steady::time_point> last_change;
  bool local_error_logged = false;  // one log line per run of local errors, not one per probe
};

}  // namespace detail

namespace {

using detail::checker_shared;
using detail::checker_target;

void record_result(const checker_shared& shared, checker_target& t, const probe_result& r) {
  const auto now = shared.clock();
  ++t.checks;
  t.last_ok = r.ok;
  t.last_reason = r.reason;
  t.last_check = now;
  balancer::backend& b = *t.target.backend;
  if (r.local_error) {
    // This process is out of descriptors or memory: the backend did nothing wrong, so neither
    // the rise/fall runs nor the result metric move.
    if (shared.log && !t.local_error_logged)
      shared.log("health: pool " + t.target.pool + " backend " + b.address() +
                 ": check skipped, this process is out of resources (" + r.reason +
                 "); the backend's state is unchanged. Raise the descriptor limit (ulimit -n).");
    t.local_error_logged = true;
    return;
  }
  t.local_error_logged = false;
  const transition flip = observe(t.runs, r.ok, t.target.cfg.rise, t.target.cfg.fall);
  if (shared.on_result) shared.on_result(t.target.pool, b, r);
  if (flip == transition::none) return;

  const bool up = flip == transition::went_up;
  b.set_local_up(up);
  if (shared.verdict_follows_local) b.set_up(up);
  t.last_change = now;
  if (shared.log) {
    shared.log("health: pool " + t.target.pool + " backend " + b.address() + " is " +
               (up ? "UP after " + plural(t.runs.successes, "successful check")
                   : "DOWN after " + plural(t.runs.failures, "failed check")) +
               " (last: " + r.reason + ")");
  }
  if (shared.on_transition) shared.on_transition(t.target.pool, b, up);
}

// One target's schedule: wait, probe, record, repeat. Probes start `interval` apart (fixed rate)
// unless a probe itself took longer, in which case the next one starts right away.
net::awaitable<void> run_target(std::shared_ptr<checker_shared> shared,
                                std::shared_ptr<checker_target> t, steady::duration first_delay) {
  net::steady_timer timer(co_await net::this_coro::executor);
  steady::time_point next = steady::now() + first_delay;
  while (!t->retired) {
    timer.expires_at(next);
    co_await timer.async_wait(use_tuple);
    if (t->retired) co_return;
    const steady::time_point started = steady::now();
    try {
      probe_result r = co_await probe(t->target.endpoint, t->target.backend->address(),
                                      t->target.cfg, t->target.tls, t->target.host);
      if (t->retired) co_return;
      record_result(*shared, *t, r);
    } catch (const std::exception& e) {
      // A cancelled probe throws (terminal cancellation); anything else is a bug in a callback,
      // logged rather than allowed to end this target's checks silently.
      if (t->retired) co_return;
      if (shared->log) {
        shared->log("health: pool " + t->target.pool + " backend " + t->target.backend->address() +
                    ": check error: " + e.what());
      }
    }
    next = started + std::max<steady::duration>(t->target.cfg.interval, min_interval);
  }
}

}  // namespace

steady::duration first_probe_delay(std::mt19937_64& rng, double jitter,
                                   std::chrono::milliseconds interval) {
  const double spread =
      jitter * static_cast<double>(std::chrono::duration_cast<steady::duration>(interval).count());
  if (spread < 1.0) return steady::duration{0};
  std::uniform_int_distribution<steady::rep> pick(0, static_cast<steady::rep>(spread) - 1);
  return steady::duration(pick(rng));
}

health_checker::health_checker(net::io_context& ioc, clock_fn clock, log_fn log,
                               health_checker_options options)
    : ioc_(ioc), shared_(std::make_shared<detail::checker_shared>()), options_(options) {
  shared_->clock = clock ? std::move(clock) : clock_fn([] { return steady::now(); });
  shared_->log = std::move(log);
  rng_.seed(options_.seed != 0 ? options_.seed : std::random_device{}());
}

health_checker::~health_checker() {
  // Only posting a cancel can throw (allocation), and a destructor must not: every target is
  // marked retired before its cancel is posted, so its coroutine ends at its next wake-up anyway.
  try {
    stop();
  } catch (...) {
  }
}

void health_checker::set_on_result(result_fn f) {
  shared_->on_result = std::move(f);
}
void health_checker::set_on_transition(transition_fn f) {
  shared_->on_transition = std::move(f);
}
void health_checker::set_verdict_follows_local(bool follows) {
  shared_->verdict_follows_local = follows;
}

void health_checker::set_targets(std::vector<health_target> targets) {
  if (stopped_) return;
  std::unordered_set<const balancer::backend*> wanted;
  std::vector<std::shared_ptr<detail::checker_target>> fresh;
  for (health_target& target : targets) {
    const balancer::backend* key = target.backend.get();
    if (key == nullptr || !wanted.insert(key).second) continue;
    if (auto it = targets_.find(key); it != targets_.end()) {
      it->second->target = std::move(target);  // same backend: keep runs and schedule
      continue;
    }
    auto t = std::make_shared<detail::checker_target>();
    t->runs = initial_rise_fall(target.backend->local_up());
    t->target = std::move(target);
    fresh.push_back(std::move(t));
  }

  for (auto it = targets_.begin(); it != targets_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    retire(it->second);
    detail::checker_target& t = *it->second;
    balancer::backend& b = *t.target.backend;
    if (!b.local_up()) {
      // An unchecked backend is up (SPEC); leaving it down would strand it forever.
      b.set_local_up(true);
      if (shared_->verdict_follows_local) b.set_up(true);
      if (shared_->log) {
        shared_->log("health: pool " + t.target.pool + " backend " + b.address() +
                     " is no longer checked; marked UP");
      }
    }
    it = targets_.erase(it);
  }

  for (auto& t : fresh) {
    targets_.emplace(t->target.backend.get(), t);
    start(t);
  }
}

void health_checker::start(const std::shared_ptr<detail::checker_target>& t) {
  const steady::duration delay =
      first_probe_delay(rng_, options_.first_probe_jitter, t->target.cfg.interval);
  net::co_spawn(ioc_, run_target(shared_, t, delay),
                net::bind_cancellation_slot(t->cancel.slot(), net::detached));
}

void health_checker::retire(const std::shared_ptr<detail::checker_target>& t) {
  t->retired = true;
  // The signal is emitted from a posted handler, never inline: co_spawn's cancellation handler
  // dispatches to the coroutine's executor, which from outside run() means a post that captures
  // the signal by address; running inside run() keeps that dispatch inline, and the lambda's
  // reference keeps the signal alive even if the coroutine finishes first.
  net::post(ioc_, [t] { t->cancel.emit(net::cancellation_type::terminal); });
}

void health_checker::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [key, t] : targets_)
    retire(t);
  targets_.clear();
}

namespace {

target_status to_status(const detail::checker_target& t) {
  target_status s;
  s.pool = t.target.pool;
  s.address = t.target.backend->address();
  s.up = t.runs.up;
  s.successes = t.runs.successes;
  s.failures = t.runs.failures;
  s.checks = t.checks;
  s.last_ok = t.last_ok;
  s.last_reason = t.last_reason;
  s.last_check = t.last_check;
  s.last_change = t.last_change;
  return s;
}

}  // namespace

std::vector<target_status> health_checker::status() const {
  std::vector<target_status> out;
  out.reserve(targets_.size());
  for (const auto& [key, t] : targets_)
    out.push_back(to_status(*t));
  std::sort(out.begin(), out.end(), [](const target_status& a, const target_status& b) {
    return std::tie(a.pool, a.address) < std::tie(b.pool, b.address);
  });
  return out;
}

std::optional<target_status> health_checker::status_of(const balancer::backend& b) const {
  auto it = targets_.find(&b);
  if (it == targets_.end()) return std::nullopt;
  return to_status(*it->second);
}

}  // namespace tally::health
