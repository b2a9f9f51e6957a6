// How the policies treat a backend at max_connections: they prefer a backend with room, and the
// load-aware ones count the requests queued for a backend as load.
#include <doctest/doctest.h>

#include "../../balancer/src/least_connections.hpp"
#include "../../balancer/src/random_two.hpp"
#include "../../balancer/src/round_robin.hpp"
#include "../../balancer/src/weighted_round_robin.hpp"
#include "fixtures.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_backends;
using tally::balancer::test::make_equal_backends;
using tally::balancer::test::tally_picks;

namespace {

struct idle_waiter final : slot_waiter {
  void on_granted() noexcept override {}
};

// Fills `b` to a limit of `limit` and queues `waiters` more requests behind it.
void fill(backend& b, std::uint64_t limit, std::vector<idle_waiter>& waiters) {
  b.slots().set_limits(limit, 1000);
  idle_waiter first;
  for (std::uint64_t i = 0; i < limit; ++i)
    REQUIRE(b.slots().acquire(first) == slot_queue::admission::granted);
  for (auto& w : waiters)
    REQUIRE(b.slots().acquire(w) == slot_queue::admission::queued);
}

void unqueue(backend& b, std::vector<idle_waiter>& waiters) {
  for (auto& w : waiters)
    b.slots().cancel(w);
}

}  // namespace

TEST_CASE("round_robin skips a full backend while another has room") {
  auto backends = make_equal_backends(3);
  round_robin rr(backends);
  std::vector<idle_waiter> none;
  fill(*backends[1], 1, none);
  CHECK_FALSE(backends[1]->has_room());
  auto counts = tally_picks(rr, 1000);
  CHECK(counts[1] == 0);
  CHECK(counts[0] == 500);
  CHECK(counts[2] == 500);

  // Every backend full: the rotation goes on over all of them (the request will queue).
  fill(*backends[0], 1, none);
  fill(*backends[2], 1, none);
  counts = tally_picks(rr, 999);
  CHECK(counts[0] == 333);
  CHECK(counts[1] == 333);
  CHECK(counts[2] == 333);
}

TEST_CASE("weighted_round_robin skips a full backend while another has room") {
  auto backends = make_backends({5, 1, 1});
  weighted_round_robin wrr(backends, 1);
  std::vector<idle_waiter> none;
  fill(*backends[0], 2, none);
  auto counts = tally_picks(wrr, 700);
  CHECK(counts[0] == 0);
  CHECK(counts[1] == 350);
  CHECK(counts[2] == 350);
}

TEST_CASE("least_connections counts queued requests and prefers room over a lighter full backend") {
  auto backends = make_backends({4, 1});
  least_connections lc(backends);
  // a: weight 4, 2 in flight at its limit of 2 (load 0.5 per weight); b: 3 in flight (load 3).
  std::vector<idle_waiter> none;
  fill(*backends[0], 2, none);
  for (int i = 0; i < 3; ++i)
    backends[1]->begin_request();
  CHECK(lc.pick({}) == 1);  // b has room, a would queue

  // Both full: the lighter one, counting its waiters, takes the request.
  backends[1]->slots().set_limits(3, 1000);
  std::vector<idle_waiter> queued_on_a(12);  // a: (2 + 12) / 4 = 3.5 > b: 3 / 1
  for (auto& w : queued_on_a)
    REQUIRE(backends[0]->slots().acquire(w) == slot_queue::admission::queued);
  CHECK(backends[0]->queued_requests() == 12);
  CHECK(lc.pick({}) == 1);
  unqueue(*backends[0], queued_on_a);
  CHECK(lc.pick({}) == 0);  // a: 2 / 4 < b: 3 / 1
}

TEST_CASE("random_two compares requests in flight plus queued") {
  auto backends = make_equal_backends(2);
  random_two r2(backends, 1, 42);
  backends[0]->slots().set_limits(1, 100);
  backends[1]->slots().set_limits(1, 100);
  idle_waiter holder;
  REQUIRE(backends[0]->slots().acquire(holder) == slot_queue::admission::granted);
  REQUIRE(backends[1]->slots().acquire(holder) == slot_queue::admission::granted);
  std::vector<idle_waiter> waiters(3);
  for (auto& w : waiters)
    REQUIRE(backends[0]->slots().acquire(w) == slot_queue::admission::queued);
  // Equal in flight, but a has three waiting: b always wins the comparison.
  auto counts = tally_picks(r2, 200);
  CHECK(counts[1] == 200);
  unqueue(*backends[0], waiters);
}
