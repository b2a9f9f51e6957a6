// slot_queue: max_connections and the bounded FIFO of waiters, without sockets or clocks.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "tally/balancer/slot_queue.hpp"

using namespace tally::balancer;
using admission = slot_queue::admission;

namespace {

// Records the order in which waiters were granted.
struct recording_waiter final : slot_waiter {
  recording_waiter(std::vector<int>& log, int id) : log_(&log), id_(id) {}
  void on_granted() noexcept override { log_->push_back(id_); }
  std::vector<int>* log_;
  int id_;
};

struct counting_waiter final : slot_waiter {
  void on_granted() noexcept override { granted.fetch_add(1); }
  std::atomic<int> granted{0};
};

}  // namespace

TEST_CASE("slot_queue without a limit grants every request and never queues") {
  slot_queue q;
  std::vector<int> log;
  recording_waiter w(log, 1);
  for (int i = 0; i < 100; ++i)
    CHECK(q.acquire(w) == admission::granted);
  CHECK(q.active() == 100);
  CHECK(q.waiting() == 0);
  CHECK(q.has_room());
  for (int i = 0; i < 100; ++i)
    q.release();
  CHECK(q.active() == 0);
}

TEST_CASE("slot_queue queues beyond max_active and grants the oldest waiter first") {
  slot_queue q;
  q.set_limits(2, 10);
  std::vector<int> log;
  recording_waiter a(log, 1), b(log, 2), c(log, 3), d(log, 4), e(log, 5);
  CHECK(q.acquire(a) == admission::granted);
  CHECK(q.has_room());
  CHECK(q.acquire(b) == admission::granted);
  CHECK_FALSE(q.has_room());
  CHECK(q.acquire(c) == admission::queued);
  CHECK(q.acquire(d) == admission::queued);
  CHECK(q.acquire(e) == admission::queued);
  CHECK(q.active() == 2);
  CHECK(q.waiting() == 3);

  q.release();  // the slot passes to c: active stays at the limit
  CHECK(log == std::vector<int>{3});
  CHECK(q.active() == 2);
  CHECK(q.waiting() == 2);
  CHECK_FALSE(q.cancel(c));  // granted: its owner holds the slot

  q.release();
  q.release();
  CHECK(log == std::vector<int>{3, 4, 5});
  CHECK(q.waiting() == 0);
  CHECK(q.active() == 2);
  q.release();
  q.release();
  CHECK(q.active() == 0);
  CHECK(q.has_room());
}

TEST_CASE("slot_queue refuses when max_waiting wait already - and 0 means no waiting") {
  slot_queue q;
  q.set_limits(1, 1);
  std::vector<int> log;
  recording_waiter a(log, 1), b(log, 2), c(log, 3);
  CHECK(q.acquire(a) == admission::granted);
  CHECK(q.acquire(b) == admission::queued);
  CHECK(q.acquire(c) == admission::full);
  CHECK(q.waiting() == 1);
  CHECK(q.cancel(b));
  CHECK(q.waiting() == 0);

  q.set_limits(1, 0);
  CHECK(q.acquire(b) == admission::full);
  q.release();
  CHECK(q.acquire(b) == admission::granted);
  q.release();
  CHECK(log.empty());  // nobody was ever granted through on_granted
}

TEST_CASE("slot_queue cancel unlinks a waiter so a freed slot skips it") {
  slot_queue q;
  q.set_limits(1, 10);
  std::vector<int> log;
  recording_waiter a(log, 1), b(log, 2), c(log, 3);
  CHECK(q.acquire(a) == admission::granted);
  CHECK(q.acquire(b) == admission::queued);
  CHECK(q.acquire(c) == admission::queued);
  CHECK(q.cancel(b));  // b's client went away
  CHECK_FALSE(q.cancel(b));
  q.release();
  CHECK(log == std::vector<int>{3});
  CHECK(q.active() == 1);
  CHECK(q.waiting() == 0);
}

TEST_CASE("slot_queue newcomers queue behind waiters instead of taking a freed slot") {
  slot_queue q;
  q.set_limits(1, 10);
  std::vector<int> log;
  recording_waiter a(log, 1), b(log, 2), late(log, 3);
  CHECK(q.acquire(a) == admission::granted);
  CHECK(q.acquire(b) == admission::queued);
  CHECK(q.acquire(late) == admission::queued);
  q.release();
  CHECK(log == std::vector<int>{2});
  CHECK(q.cancel(late));  // a waiter leaves the queue before it is destroyed, as the proxy's do
}

TEST_CASE("slot_queue set_limits: a higher limit or none grants waiters - a lower one keeps them") {
  slot_queue q;
  q.set_limits(1, 10);
  std::vector<int> log;
  recording_waiter a(log, 1), b(log, 2), c(log, 3), d(log, 4);
  CHECK(q.acquire(a) == admission::granted);
  CHECK(q.acquire(b) == admission::queued);
  CHECK(q.acquire(c) == admission::queued);
  CHECK(q.acquire(d) == admission::queued);

  q.set_limits(2, 0);  // a reload: one more slot, and no new waiters accepted
  CHECK(log == std::vector<int>{2});
  CHECK(q.waiting() == 2);  // c and d are not dropped

  q.set_limits(0, 0);  // unlimited: everyone goes
  CHECK(log == std::vector<int>{2, 3, 4});
  CHECK(q.waiting() == 0);
  CHECK(q.active() == 4);
}

TEST_CASE("slot_queue never exceeds its limit and loses no waiter under concurrent workers") {
  constexpr int threads = 4;
  constexpr int per_thread = 2000;
  constexpr std::int64_t limit = 3;
  slot_queue q;
  q.set_limits(limit, threads);
  std::atomic<std::int64_t> peak{0};
  std::atomic<int> served{0};
  std::atomic<int> refused{0};
  auto observe = [&] {
    const auto now = q.active();
    auto seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        counting_waiter w;
        auto got = q.acquire(w);
        if (got == admission::full) {  // cannot happen: the queue holds one per thread
          refused.fetch_add(1);
          continue;
        }
        if (got == admission::queued) {
          // This thread is the waiter's own executor: spin until the grant arrives.
          while (w.granted.load() == 0) {
            std::this_thread::yield();
          }
        }
        observe();
        served.fetch_add(1);
        q.release();
      }
    });
  }
  for (auto& t : pool)
    t.join();
  CHECK(refused.load() == 0);
  CHECK(served.load() == threads * per_thread);
  CHECK(peak.load() <= limit);
  CHECK(q.active() == 0);
  CHECK(q.waiting() == 0);
}
