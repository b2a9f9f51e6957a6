// When a failed try is tried again, as pure functions of what happened and the pool's retry
// config (SPEC "Proxying" Retries), so every rule has a unit test that needs no socket. The
// exchange only carries out what decide_retry() says.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

#include "tally/config/config.hpp"

namespace tally::proxy {

// How one try against a backend ended.
enum class try_failure : std::uint8_t {
  none,              // a response header arrived (its status may still be a 5xx)
  connect,           // the TCP connect failed: nothing was sent
  connect_timeout,   // the TCP connect took longer than timeouts.connect: nothing was sent
  send,              // the backend closed or reset while the request was written
  response_timeout,  // no response header within the try's deadline
  response_error,    // the backend closed, reset or sent an invalid response header
  client_body,       // reading the client's body failed: not the backend's fault
  local_resource,    // no descriptor, port or memory here to connect with: not the backend's
                     // fault, and another backend would fail the same way
  tls_handshake,     // the TLS handshake failed (e.g. the certificate did not verify): nothing
                     // of the request was sent
};

struct try_report {
  try_failure failure = try_failure::none;
  unsigned status = 0;         // the response status, when failure == none
  bool body_consumed = false;  // client body beyond the prefetch was read: it cannot be replayed
};

struct retry_decision {
  bool retry = false;           // try again, on another backend where one exists
  bool backend_failed = false;  // counts against the backend (outlier detection)
  bool uses_budget = false;     // the try may have reached the backend: the retry budget applies
  config::retry_condition reason = config::retry_condition::reset;  // tally_retries_total{reason}
};

// `may_replay`: the method is idempotent and the whole body is held, so the request can be sent
// again. Connect failures sent nothing and retry whatever the method. `last_try`: no attempt
// is left.
retry_decision decide_retry(const try_report& t, const config::retry_config& cfg, bool may_replay,
                            bool last_try) noexcept;

// Retries in flight stay under max(3, budget_percent % of active requests), so a pool where
// every backend fails cannot multiply its own load.
constexpr bool retry_budget_allows(std::int64_t active_requests, std::int64_t retries_in_flight,
                                   unsigned budget_percent) noexcept {
  return retries_in_flight <
         std::max<std::int64_t>(3,
                                active_requests * static_cast<std::int64_t>(budget_percent) / 100);
}

// Counts one request among the active ones and holds its retry slot, released on every path
// out of the exchange.
class request_accounting {
 public:
  request_accounting(std::atomic<std::int64_t>& active, std::atomic<std::int64_t>& retries)
      : active_(active), retries_(retries) {
    active_.fetch_add(1, std::memory_order_relaxed);
  }
  request_accounting(const request_accounting&) = delete;
  request_accounting& operator=(const request_accounting&) = delete;
  ~request_accounting() {
    active_.fetch_sub(1, std::memory_order_relaxed);
    if (holds_slot_) retries_.fetch_sub(1, std::memory_order_relaxed);
  }
  // A retry needs a slot of the budget; a request that holds one keeps it for later retries.
  bool take_retry_slot(unsigned budget_percent) noexcept {
    if (holds_slot_) return true;
    if (!retry_budget_allows(active_.load(std::memory_order_relaxed),
                             retries_.load(std::memory_order_relaxed), budget_percent))
      return false;
    holds_slot_ = true;
    retries_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

 private:
  std::atomic<std::int64_t>& active_;
  std::atomic<std::int64_t>& retries_;
  bool holds_slot_ = false;
};

// The pause before retry number `retry` (1 = the first retry): none for the first, which goes
// at once to another backend; then exponential backoff with full jitter, so retries from a
// failing pool do not synchronise. `rng` is a UniformRandomBitGenerator (injectable in tests).
template <class Rng>
std::chrono::milliseconds retry_backoff(std::chrono::milliseconds base, unsigned retry, Rng& rng) {
  if (retry <= 1 || base.count() <= 0) return std::chrono::milliseconds{0};
  const auto cap = base * (1u << std::min(retry - 2, 6u));
  std::uniform_int_distribution<long> dist(0, static_cast<long>(cap.count()));
  return std::chrono::milliseconds{dist(rng)};
}

}  // namespace tally::proxy
