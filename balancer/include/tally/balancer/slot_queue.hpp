// A backend's request slots: how many requests are in flight to it on this replica, its
// max_connections limit, and the bounded FIFO of requests waiting for a slot (HAProxy's server
// queue). Pure bookkeeping, no I/O and no clock: the proxy owns the waiting (a timer on the
// waiter's own loop) and is told through slot_waiter::on_granted when a slot became its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include <boost/intrusive/list.hpp>

namespace tally::balancer {

// One request waiting for a slot. The waiting side owns it and keeps it alive while it is
// queued (until cancel() returned, or on_granted() was called); the queue only links it.
class slot_waiter : public boost::intrusive::list_base_hook<
                        boost::intrusive::link_mode<boost::intrusive::safe_link>> {
 public:
  // The slot is now this waiter's. Called once, with the queue's lock held, on whichever thread
  // freed the slot (another worker, or a reload raising the limit): it must only hand the news
  // to the waiter's own executor (a post) and return.
  virtual void on_granted() noexcept = 0;

 protected:
  slot_waiter() = default;
  ~slot_waiter() = default;
};

// Thread safety: every member may be called from any thread at once. The counters are atomics
// read without a lock (the policies read them on every pick); the waiter list and the
// decisions that touch it take one mutex, and only when the backend has a limit. A backend
// without a limit (the default) never takes the lock.
class slot_queue {
 public:
  enum class admission {
    granted,  // the caller holds a slot: release() it when the request ends
    queued,   // the waiter is linked; on_granted() or the caller's cancel() ends the wait
    full,     // the queue holds max_waiting already: refuse the request
  };

  slot_queue() = default;
  slot_queue(const slot_queue&) = delete;
  slot_queue& operator=(const slot_queue&) = delete;

  // max_active 0 = unlimited. A higher limit (or 0) grants waiters at once; a lower one lets
  // the requests in flight finish, and a lower max_waiting keeps the waiters already queued.
  void set_limits(std::uint64_t max_active, std::uint64_t max_waiting);

  // A slot now if one is free and nobody waits before us; otherwise links `w` at the back.
  admission acquire(slot_waiter& w);
  // Counts a request regardless of the limit (tests, and callers that cannot wait).
  void take() noexcept { active_.fetch_add(1); }
  // True: `w` was still waiting and is unlinked, no slot is held. False: it was granted (its
  // on_granted() has run), so the caller holds a slot and must release() it.
  bool cancel(slot_waiter& w) noexcept;
  // The request holding a slot ended: the slot goes to the oldest waiter, if any.
  void release() noexcept;

  std::int64_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  std::int64_t waiting() const noexcept { return waiting_.load(std::memory_order_relaxed); }
  std::uint64_t max_active() const noexcept { return max_active_.load(std::memory_order_relaxed); }
  // A new request would get a slot at once (no limit, or below it with nobody waiting).
  bool has_room() const noexcept;

 private:
  // One more active request if that stays within `limit` (> 0).
  bool claim(std::uint64_t limit) noexcept;
  // Hands free slots to waiters in order; `self` (a waiter being queued by the calling thread)
  // is not notified: the return value says it was granted.
  bool grant_waiters_locked(const slot_waiter* self = nullptr) noexcept;

  // Sequentially consistent on purpose (the default): release() decrements active_ then reads
  // waiting_, acquire() increments waiting_ then reads active_, so one of the two always sees
  // the other and no waiter sleeps through a free slot.
  std::atomic<std::int64_t> active_{0};
  std::atomic<std::int64_t> waiting_{0};  // written under mutex_ only
  std::atomic<std::uint64_t> max_active_{0};
  std::uint64_t max_waiting_ = 0;  // guarded by mutex_
  std::mutex mutex_;
  boost::intrusive::list<slot_waiter, boost::intrusive::constant_time_size<false>> waiters_;
};

}  // namespace tally::balancer
