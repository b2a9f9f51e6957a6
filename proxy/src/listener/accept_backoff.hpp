// What a listener does after a failed accept. Out of descriptors (EMFILE) the pending connection
// stays in the backlog and the next accept fails at once: retrying immediately spins a core at
// 100% (issue 11). So each listener pauses, 50 ms at first, doubling up to 1 s while the errors
// go on, and counts every failure in tally_accept_errors_total{listener,reason}.
#pragma once

#include <algorithm>
#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/net_types.hpp"
#include "tally/health/local_errors.hpp"
#include "tally/proxy/metrics.hpp"

namespace tally::proxy {

class accept_backoff {
 public:
  static constexpr std::chrono::milliseconds initial{50};
  static constexpr std::chrono::milliseconds longest{1000};

  // An accept succeeded: the next failure pauses briefly again.
  void reset() noexcept { pause_ = initial; }

  // The pause after this failure; the next one doubles.
  std::chrono::milliseconds next() noexcept {
    auto p = pause_;
    pause_ = std::min(pause_ * 2, longest);
    return p;
  }

 private:
  std::chrono::milliseconds pause_ = initial;
};

// Counts `ec` for `listener` ("proxy" or "admin") in `registry` (may be null) and waits out the
// backoff's next pause on `timer`.
inline net::awaitable<void> pause_after_accept_error(const error_code& ec,
                                                     std::string_view listener, metrics* registry,
                                                     accept_backoff& backoff,
                                                     net::steady_timer& timer) {
  if (registry) registry->count_accept_error(listener, health::resource_error_reason(ec));
  timer.expires_after(backoff.next());
  co_await timer.async_wait(use_tuple);
}

}  // namespace tally::proxy
