#include <doctest/doctest.h>

#include "../../balancer/src/consistent_hash.hpp"
#include "../../balancer/src/least_connections.hpp"
#include "../../balancer/src/random_two.hpp"
#include "../../balancer/src/round_robin.hpp"
#include "../../balancer/src/weighted_round_robin.hpp"
#include "fixtures.hpp"
#include "tally/balancer/pool.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_backends;
using tally::config::policy_kind;

namespace {
tally::config::pool_config pool_cfg(policy_kind kind) {
  tally::config::pool_config cfg;
  cfg.name = "web";
  cfg.policy = kind;
  return cfg;
}

template <class T>
bool built_as(policy_kind kind) {
  auto backends = make_backends({1, 2});
  auto p = make_policy(pool_cfg(kind), backends, 2);
  return dynamic_cast<T*>(p.get()) != nullptr && p->pick({}) >= 0;
}
}  // namespace

TEST_CASE("make_policy builds the policy the pool names") {
  CHECK(built_as<round_robin>(policy_kind::round_robin));
  CHECK(built_as<weighted_round_robin>(policy_kind::weighted_round_robin));
  CHECK(built_as<least_connections>(policy_kind::least_connections));
  CHECK(built_as<random_two>(policy_kind::random_two));
  CHECK(built_as<consistent_hash>(policy_kind::consistent_hash));
}

TEST_CASE("pool picks through its policy and counts eligible backends") {
  pool p(pool_cfg(policy_kind::weighted_round_robin), make_backends({2, 1, 1}), 1);
  CHECK(p.name() == "web");
  CHECK(p.eligible_count() == 3);
  p.backends()[1]->set_up(false);
  p.backends()[2]->set_weight(0);
  CHECK(p.eligible_count() == 1);
  CHECK(p.pick({}) == 0);

  // A moved pool still picks over its own backends.
  pool moved = std::move(p);
  CHECK(moved.pick({}) == 0);
  moved.backends()[0]->set_drained(true);
  CHECK(moved.eligible_count() == 0);
  CHECK(moved.pick({}) == -1);
}
