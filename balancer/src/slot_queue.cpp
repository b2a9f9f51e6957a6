#include "tally/balancer/slot_queue.hpp"

namespace tally::balancer {

bool slot_queue::has_room() const noexcept {
  const auto limit = max_active();
  if (limit == 0) return true;
  return waiting() == 0 && active() < static_cast<std::int64_t>(limit);
}

bool slot_queue::claim(std::uint64_t limit) noexcept {
  auto current = active_.load();
  while (current < static_cast<std::int64_t>(limit)) {
    if (active_.compare_exchange_weak(current, current + 1)) return true;
  }
  return false;
}

void slot_queue::set_limits(std::uint64_t max_active, std::uint64_t max_waiting) {
  std::lock_guard lock(mutex_);
  max_active_.store(max_active);
  max_waiting_ = max_waiting;
  grant_waiters_locked();
}

slot_queue::admission slot_queue::acquire(slot_waiter& w) {
  const auto limit = max_active_.load();
  if (limit == 0) {
    active_.fetch_add(1);
    return admission::granted;
  }
  // Nobody waiting: a free slot is ours. With waiters, a newcomer queues behind them.
  if (waiting_.load() == 0 && claim(limit)) return admission::granted;
  std::lock_guard lock(mutex_);
  if (static_cast<std::uint64_t>(waiting_.load()) >= max_waiting_) return admission::full;
  waiters_.push_back(w);
  waiting_.fetch_add(1);
  // A slot freed between the claim above and the lock was released by a thread that saw no
  // waiter yet: look again now that this one is counted.
  return grant_waiters_locked(&w) ? admission::granted : admission::queued;
}

bool slot_queue::cancel(slot_waiter& w) noexcept {
  std::lock_guard lock(mutex_);
  if (!w.is_linked()) return false;
  waiters_.erase(waiters_.iterator_to(w));
  waiting_.fetch_sub(1);
  return true;
}

void slot_queue::release() noexcept {
  active_.fetch_sub(1);
  if (waiting_.load() == 0) return;
  std::lock_guard lock(mutex_);
  grant_waiters_locked();
}

bool slot_queue::grant_waiters_locked(const slot_waiter* self) noexcept {
  bool self_granted = false;
  while (!waiters_.empty()) {
    const auto limit = max_active_.load();
    if (limit == 0)
      active_.fetch_add(1);
    else if (!claim(limit))
      break;
    slot_waiter& w = waiters_.front();
    waiters_.pop_front();
    waiting_.fetch_sub(1);
    if (&w == self)
      self_granted = true;
    else
      w.on_granted();
  }
  return self_granted;
}

}  // namespace tally::balancer
