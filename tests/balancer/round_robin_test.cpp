#include <doctest/doctest.h>

#include "../../balancer/src/round_robin.hpp"
#include "fixtures.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_equal_backends;
using tally::balancer::test::sequence;
using tally::balancer::test::tally_picks;

TEST_CASE("round_robin rotates evenly through every backend") {
  auto backends = make_equal_backends(3);
  round_robin rr(backends);
  CHECK(sequence(rr, 7) == "abcabca");

  auto counts = tally_picks(rr, 30000);
  CHECK(counts[0] == counts[1]);
  CHECK(counts[1] == counts[2]);
}

TEST_CASE("round_robin ignores weights") {
  auto backends = tally::balancer::test::make_backends({5, 1, 1});
  round_robin rr(backends);
  CHECK(sequence(rr, 6) == "abcabc");
}

TEST_CASE("round_robin skips ineligible backends without doubling a neighbour's share") {
  auto backends = make_equal_backends(4);
  round_robin rr(backends);
  backends[1]->set_up(false);
  backends[3]->set_drained(true);
  CHECK(sequence(rr, 6).find_first_of("bd") == std::string::npos);

  auto counts = tally_picks(rr, 10000);
  CHECK(counts[0] == 5000);
  CHECK(counts[2] == 5000);

  backends[1]->set_up(true);
  backends[3]->set_drained(false);
  backends[0]->set_ejected(true);
  backends[2]->set_weight(0);
  counts = tally_picks(rr, 10000);
  CHECK(counts[1] == 5000);
  CHECK(counts[3] == 5000);
}

TEST_CASE("round_robin returns -1 when nothing is eligible") {
  auto backends = make_equal_backends(2);
  round_robin rr(backends);
  backends[0]->set_up(false);
  backends[1]->set_ejected(true);
  CHECK(rr.pick({}) == -1);

  backend_list empty;
  round_robin none(empty);
  CHECK(none.pick({}) == -1);
}

TEST_CASE("round_robin retries prefer untried backends") {
  auto backends = make_equal_backends(3);
  round_robin rr(backends);

  for (int i = 0; i < 10; ++i) {
    int p = rr.pick({.tried = {0}});
    CHECK((p == 1 || p == 2));
  }
  // Only c is untried: always c.
  for (int i = 0; i < 5; ++i)
    CHECK(rr.pick({.tried = {0, 1}}) == 2);
  // The untried one is down: fall back to a tried, eligible one.
  backends[2]->set_up(false);
  for (int i = 0; i < 5; ++i) {
    int p = rr.pick({.tried = {0, 1}});
    CHECK((p == 0 || p == 1));
  }
  // Everything tried and still eligible: rotate among all of them.
  backends[2]->set_up(true);
  auto counts = tally_picks(rr, 300, {.tried = {0, 1, 2}});
  CHECK(counts[0] == 100);
  CHECK(counts[1] == 100);
  CHECK(counts[2] == 100);
}
