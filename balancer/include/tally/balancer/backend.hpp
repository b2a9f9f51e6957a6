// One backend's live state. The object is shared by every routing snapshot that contains the
// backend, so its counters and flags survive a reload; all fields are atomics because every
// worker reads them on each pick and health/cluster/admin code writes them from the control loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "tally/balancer/slot_queue.hpp"

namespace tally::balancer {

class backend {
 public:
  // `address` is the label exactly as configured ("127.0.0.1:9001"); `id` is unique for the
  // life of the process (per-worker connection pools are keyed by it).
  backend(std::string address, std::uint32_t configured_weight);

  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  const std::string& address() const noexcept { return address_; }
  std::uint64_t id() const noexcept { return id_; }
  std::uint32_t configured_weight() const noexcept { return configured_weight_; }

  // Effective weight: the configured weight unless an admin change overrode it.
  std::uint32_t weight() const noexcept { return weight_.load(std::memory_order_relaxed); }
  void set_weight(std::uint32_t w) noexcept { weight_.store(w, std::memory_order_relaxed); }

  bool drained() const noexcept { return drained_.load(std::memory_order_relaxed); }
  void set_drained(bool d) noexcept { drained_.store(d, std::memory_order_relaxed); }

  // Result of this replica's own active checks.
  bool local_up() const noexcept { return local_up_.load(std::memory_order_relaxed); }
  void set_local_up(bool up) noexcept { local_up_.store(up, std::memory_order_relaxed); }

  // Cluster verdict (equals local_up in a cluster of one). Traffic follows this.
  bool up() const noexcept { return up_.load(std::memory_order_relaxed); }
  void set_up(bool up) noexcept { up_.store(up, std::memory_order_relaxed); }

  // Passive outlier ejection, set and cleared by the outlier detector.
  bool ejected() const noexcept { return ejected_.load(std::memory_order_relaxed); }
  void set_ejected(bool e) noexcept { ejected_.store(e, std::memory_order_relaxed); }
  // Steady-clock time (ns since epoch of steady_clock) the ejection ends; 0 when not ejected.
  std::int64_t ejected_until_ns() const noexcept {
    return ejected_until_ns_.load(std::memory_order_relaxed);
  }
  void set_ejected_until_ns(std::int64_t t) noexcept {
    ejected_until_ns_.store(t, std::memory_order_relaxed);
  }

  // May take new requests: up, not ejected, not drained, weight > 0.
  bool eligible() const noexcept { return up() && !ejected() && !drained() && weight() > 0; }

  // Requests currently in flight to this backend (least_connections, random_two, /status).
  std::int64_t active_requests() const noexcept { return slots_.active(); }
  // Requests waiting for a slot (max_connections); tally_backend_queue_length.
  std::int64_t queued_requests() const noexcept { return slots_.waiting(); }
  // A new request would be sent at once rather than wait (policies prefer such backends).
  bool has_room() const noexcept { return slots_.has_room(); }
  // The in-flight count and its limit. The proxy acquires and releases through it; the
  // published routing snapshot sets the limits (a reload changes them in place, so waiters
  // survive it).
  slot_queue& slots() noexcept { return slots_; }
  // Counts a request without regard to the limit, and ends one (handing its slot on).
  void begin_request() noexcept { slots_.take(); }
  void end_request() noexcept { slots_.release(); }

  // Consecutive failed upstream requests (outlier ejection); reset on success.
  std::uint32_t consecutive_failures() const noexcept {
    return failures_.load(std::memory_order_relaxed);
  }
  std::uint32_t record_failure() noexcept {
    return failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  void record_success() noexcept {
    if (failures_.load(std::memory_order_relaxed) != 0)
      failures_.store(0, std::memory_order_relaxed);
  }

 private:
  const std::string address_;
  const std::uint64_t id_;
  const std::uint32_t configured_weight_;
  std::atomic<std::uint32_t> weight_;
  std::atomic<bool> drained_{false};
  std::atomic<bool> local_up_{true};
  std::atomic<bool> up_{true};
  std::atomic<bool> ejected_{false};
  std::atomic<std::int64_t> ejected_until_ns_{0};
  alignas(64) slot_queue slots_;
  std::atomic<std::uint32_t> failures_{0};
};

}  // namespace tally::balancer
