// A request's slot at a backend (pools.<name>.max_connections), and the wait for one when the
// backend is full. The queue itself is balancer::slot_queue, shared by every worker; the wait is
// a timer on the waiting request's own loop, woken by a post from whichever worker freed the
// slot, so the loop never blocks and nothing of the request is touched off its thread.
#pragma once

#include <chrono>
#include <utility>

#include "http/http_io.hpp"
#include "http/net_types.hpp"
#include "tally/balancer/backend.hpp"

namespace tally::proxy {

// Holds one slot of a backend for the life of a try: counts the request in
// tally_backend_active_requests, and on release hands the slot to the oldest waiter.
class backend_slot {
 public:
  backend_slot() = default;
  explicit backend_slot(balancer::backend& b) noexcept : backend_(&b) {}
  backend_slot(backend_slot&& o) noexcept : backend_(std::exchange(o.backend_, nullptr)) {}
  backend_slot& operator=(backend_slot&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = std::exchange(o.backend_, nullptr);
    }
    return *this;
  }
  ~backend_slot() { reset(); }

  explicit operator bool() const noexcept { return backend_ != nullptr; }
  void reset() noexcept {
    if (auto* b = std::exchange(backend_, nullptr)) b->end_request();
  }

 private:
  balancer::backend* backend_ = nullptr;
};

enum class slot_outcome {
  granted,      // the slot is held
  queue_full,   // the backend's queue already holds queue.max waiters
  timed_out,    // no slot freed within queue.timeout
  client_gone,  // the client closed its connection while waiting
};

struct slot_result {
  slot_outcome outcome = slot_outcome::granted;
  backend_slot slot;  // held when outcome is granted
};

// A slot of `b` at once when it has one (always, without a limit); otherwise waits in its queue
// for at most `timeout`, watching `client` for a close. Runs on the caller's executor.
// The same without a coroutine for a backend without a limit (every request's path): the slot,
// or nullopt when `b` has a limit and acquire_slot must be awaited.
std::optional<slot_result> acquire_unlimited_slot(balancer::backend& b) noexcept;

awaitable<slot_result> acquire_slot(balancer::backend& b, std::chrono::milliseconds timeout,
                                    connection_io& client);

}  // namespace tally::proxy
