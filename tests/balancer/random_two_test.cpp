#include <doctest/doctest.h>

#include <string>

#include "../../balancer/src/random_two.hpp"
#include "fixtures.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_equal_backends;
using tally::balancer::test::sequence;
using tally::balancer::test::tally_picks;

TEST_CASE("random_two replays exactly from a pinned seed") {
  auto backends = make_equal_backends(5);
  random_two p1(backends, 2, 42);
  random_two p2(backends, 2, 42);
  random_two other(backends, 2, 43);
  auto s1 = sequence(p1, 64);
  CHECK(s1 == sequence(p2, 64));
  CHECK(s1 != sequence(other, 64));
  // Workers draw from their own generators.
  random_two p3(backends, 2, 42);
  CHECK(sequence(p3, 64, 1) != s1);
}

TEST_CASE("random_two prefers the less loaded backend") {
  auto backends = make_equal_backends(4);
  random_two p(backends, 1, 7);
  for (int i = 0; i < 50; ++i)
    backends[0]->begin_request();
  for (int i = 0; i < 5; ++i)
    backends[1]->begin_request();
  for (int i = 0; i < 5; ++i)
    backends[2]->begin_request();
  for (int i = 0; i < 5; ++i)
    backends[3]->begin_request();

  // The busy one loses every comparison, so it is never chosen.
  auto counts = tally_picks(p, 10000);
  CHECK(counts.count(0) == 0);
  for (int i = 1; i < 4; ++i)
    CHECK(counts[i] > 2500);

  // With one idle backend it wins whenever it is drawn: ~1/2 of picks for n = 4.
  for (int i = 0; i < 5; ++i)
    backends[3]->end_request();
  counts = tally_picks(p, 10000);
  CHECK(counts[3] > 4500);
  CHECK(counts[3] < 5500);
}

TEST_CASE("random_two uses the caller's random value when given") {
  auto backends = make_equal_backends(8);
  random_two p(backends, 1, 1);
  for (std::uint64_t r = 1; r < 50; ++r) {
    int first = p.pick({.random = r});
    CHECK(p.pick({.random = r}) == first);
  }
  // Sequential caller values still reach every backend.
  std::map<int, int> counts;
  for (std::uint64_t r = 1; r <= 8000; ++r)
    ++counts[p.pick({.random = r})];
  CHECK(counts.size() == 8);
  for (auto& [idx, n] : counts)
    CHECK(n > 600);
}

TEST_CASE("random_two skips ineligible and tried backends") {
  auto backends = make_equal_backends(3);
  random_two p(backends, 1, 9);
  backends[0]->set_up(false);
  auto counts = tally_picks(p, 1000);
  CHECK(counts.count(0) == 0);
  CHECK(counts.count(-1) == 0);

  counts = tally_picks(p, 100, {.tried = {1}});
  CHECK(counts[2] == 100);
  counts = tally_picks(p, 100, {.tried = {1, 2}});  // only tried ones are left
  CHECK(counts[1] + counts[2] == 100);

  backends[1]->set_drained(true);
  CHECK(p.pick({}) == 2);
  backends[2]->set_weight(0);
  CHECK(p.pick({}) == -1);
}
