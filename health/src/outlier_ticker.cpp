#include "tally/health/outlier_ticker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>

namespace tally::health {

namespace detail {

struct ticker_state {
  explicit ticker_state(net::io_context& ioc, outlier_detector& d) : timer(ioc), detector(d) {}
  net::steady_timer timer;
  outlier_detector& detector;
  // Read by workers (in the ejection hook) before they post; written on the control loop.
  std::atomic<bool> stopped{false};
  bool running = false;
};

}  // namespace detail

namespace {

using steady = std::chrono::steady_clock;

net::awaitable<void> tick_loop(std::shared_ptr<detail::ticker_state> s) {
  while (!s->stopped.load()) {
    const auto next = s->detector.next_deadline();
    s->timer.expires_at(next ? *next : steady::time_point::max());
    // Woken by the deadline, or cancelled by a new ejection (re-computes the deadline) or stop().
    co_await s->timer.async_wait(net::as_tuple(net::use_awaitable));
    if (s->stopped.load()) co_return;
    s->detector.tick(steady::now());
  }
}

}  // namespace

outlier_ticker::outlier_ticker(net::io_context& ioc, outlier_detector& detector)
    : ioc_(ioc), state_(std::make_shared<detail::ticker_state>(ioc, detector)) {
  detector.set_on_ejection([&ioc, s = state_](outlier_detector::time_point until) {
    if (s->stopped.load()) return;
    net::post(ioc, [s, until] {
      // Only an ejection ending before the armed deadline needs the loop to wake up early.
      if (!s->stopped.load() && until < s->timer.expiry()) s->timer.cancel();
    });
  });
}

outlier_ticker::~outlier_ticker() {
  // Only the timer's cancel can throw, and a destructor must not: `stopped` is already set, so
  // the loop ends at its next wake-up all the same.
  try {
    stop();
  } catch (...) {
  }
}

void outlier_ticker::start() {
  if (state_->running || state_->stopped.load()) return;
  state_->running = true;
  net::co_spawn(ioc_, tick_loop(state_), net::detached);
}

void outlier_ticker::stop() {
  if (state_->stopped.exchange(true)) return;
  state_->timer.cancel();
}

}  // namespace tally::health
