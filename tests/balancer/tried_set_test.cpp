#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "tally/balancer/policy.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_equal_backends;
using tally::config::policy_kind;

TEST_CASE("tried_set remembers indices of any size and makes room past its capacity") {
  tried_set t{0, 64, 99, 1000};
  CHECK(t.size() == 4);
  CHECK(t.contains(64));
  CHECK(t.contains(1000));
  CHECK_FALSE(t.contains(1));
  t.add(64);  // already there: not counted twice
  CHECK(t.size() == 4);
  for (std::size_t i = 2000; i < 2000 + tried_set::capacity; ++i)
    t.add(i);
  CHECK(t.size() == tried_set::capacity);
  CHECK_FALSE(t.contains(0));  // the oldest made room
  CHECK(t.contains(2000 + tried_set::capacity - 1));
}

TEST_CASE("every policy retries the one untried backend of a pool of 100") {
  // A bit mask marked backend 64 as backend 0: a retry in a large pool went back to a backend
  // it had just tried. With every backend but `left` tried, a retry must choose `left`.
  for (auto kind :
       {policy_kind::round_robin, policy_kind::weighted_round_robin, policy_kind::least_connections,
        policy_kind::random_two, policy_kind::consistent_hash}) {
    CAPTURE(static_cast<int>(kind));
    tally::config::pool_config cfg;
    cfg.name = "big";
    cfg.policy = kind;
    auto backends = make_equal_backends(100);
    auto p = make_policy(cfg, backends, 1);
    for (std::size_t left : {std::size_t{0}, std::size_t{63}, std::size_t{64}, std::size_t{99}}) {
      CAPTURE(left);
      for (std::uint64_t key = 1; key <= 20; ++key) {
        pick_context ctx{.hash = key * 0x9e3779b97f4a7c15ULL, .random = key};
        // Only the tries of one request fit in the set: pass the untried index by exclusion.
        std::vector<std::size_t> order;
        for (std::size_t i = 0; i < 100; ++i)
          if (i != left) order.push_back(i);
        // Mark the other backends down except the last few tried ones, so "all but left" is
        // expressible with a tried_set of a request's size.
        for (std::size_t i = 0; i < 100; ++i)
          backends[i]->set_up(true);
        for (std::size_t i = 0; i + 10 < order.size(); ++i)
          backends[order[i]]->set_up(false);
        for (std::size_t i = order.size() - 10; i < order.size(); ++i)
          ctx.tried.add(order[i]);
        CHECK(p->pick(ctx) == static_cast<int>(left));
      }
    }
  }
}
