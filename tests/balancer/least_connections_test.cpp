#include <doctest/doctest.h>

#include "../../balancer/src/least_connections.hpp"
#include "fixtures.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_backends;
using tally::balancer::test::make_equal_backends;
using tally::balancer::test::tally_picks;

namespace {
void load(backend& b, int n) {
  for (int i = 0; i < n; ++i)
    b.begin_request();
}
}  // namespace

TEST_CASE("least_connections avoids a busy backend") {
  auto backends = make_equal_backends(3);
  least_connections p(backends);
  load(*backends[0], 10);
  load(*backends[2], 1);
  for (int i = 0; i < 10; ++i)
    CHECK(p.pick({}) == 1);
}

TEST_CASE("least_connections spreads ties by rotating the start") {
  auto backends = make_equal_backends(4);
  least_connections p(backends);
  auto counts = tally_picks(p, 4000);
  for (int i = 0; i < 4; ++i)
    CHECK(counts[i] == 1000);
}

TEST_CASE("least_connections follows picks as requests begin") {
  auto backends = make_equal_backends(3);
  least_connections p(backends);
  // Each request stays in flight: the picks fill the backends level by level.
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 30; ++i) {
    int idx = p.pick({});
    REQUIRE(idx >= 0);
    backends[static_cast<std::size_t>(idx)]->begin_request();
    ++counts[idx];
  }
  CHECK(counts[0] == 10);
  CHECK(counts[1] == 10);
  CHECK(counts[2] == 10);
}

TEST_CASE("least_connections weighs load by weight") {
  auto backends = make_backends({3, 1});
  least_connections p(backends);
  load(*backends[0], 5);  // 5/3 per unit of weight
  load(*backends[1], 2);  // 2/1
  CHECK(p.pick({}) == 0);
  load(*backends[0], 2);  // 7/3 > 2
  CHECK(p.pick({}) == 1);
}

TEST_CASE("least_connections skips ineligible and tried backends") {
  auto backends = make_equal_backends(3);
  least_connections p(backends);
  load(*backends[0], 5);
  load(*backends[2], 3);
  backends[1]->set_up(false);  // the idle one is down
  CHECK(p.pick({}) == 2);
  CHECK(p.pick({.tried = {2}}) == 0);
  CHECK(p.pick({.tried = {0, 2}}) == 2);  // all eligible tried: least loaded of them
  backends[0]->set_drained(true);
  backends[2]->set_ejected(true);
  CHECK(p.pick({}) == -1);
}
