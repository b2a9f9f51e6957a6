#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "../../balancer/src/weighted_round_robin.hpp"
#include "fixtures.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_backends;
using tally::balancer::test::sequence;

TEST_CASE("weighted_round_robin gives nginx's smooth sequence") {
  SUBCASE("5,1,1") {
    auto backends = make_backends({5, 1, 1});
    weighted_round_robin p(backends, 1);
    CHECK(sequence(p, 14) ==
          "aabacaa"
          "aabacaa");
  }
  SUBCASE("1,1,1") {
    auto backends = make_backends({1, 1, 1});
    weighted_round_robin p(backends, 1);
    CHECK(sequence(p, 9) == "abcabcabc");
  }
  SUBCASE("3,2") {
    auto backends = make_backends({3, 2});
    weighted_round_robin p(backends, 1);
    CHECK(sequence(p, 10) ==
          "ababa"
          "ababa");
  }
}

TEST_CASE("weighted_round_robin never picks weight 0") {
  auto backends = make_backends({2, 0, 1});
  weighted_round_robin p(backends, 1);
  CHECK(sequence(p, 6) == "acaaca");

  auto none = make_backends({0, 0});
  weighted_round_robin q(none, 1);
  CHECK(q.pick({}) == -1);
}

TEST_CASE("weighted_round_robin skips ineligible backends and keeps exact proportions") {
  auto backends = make_backends({5, 1, 1, 3});
  weighted_round_robin p(backends, 1);
  sequence(p, 3);  // mid-period when the change lands

  SUBCASE("down") {
    backends[3]->set_up(false);
  }
  SUBCASE("drained") {
    backends[3]->set_drained(true);
  }
  SUBCASE("ejected") {
    backends[3]->set_ejected(true);
  }

  // a,b,c alone is the 5,1,1 sequence again, from its start.
  CHECK(sequence(p, 14) ==
        "aabacaa"
        "aabacaa");

  auto counts = tally::balancer::test::tally_picks(p, 7 * 100);
  CHECK(counts[0] == 500);
  CHECK(counts[1] == 100);
  CHECK(counts[2] == 100);
  CHECK(counts.count(3) == 0);

  for (auto& b : backends)
    b->set_up(false);
  CHECK(p.pick({}) == -1);
}

TEST_CASE("weighted_round_robin follows run-time weight changes") {
  auto backends = make_backends({1, 1});
  weighted_round_robin p(backends, 1);
  CHECK(sequence(p, 4) == "abab");
  backends[1]->set_weight(3);
  CHECK(sequence(p, 8) ==
        "babb"
        "babb");
  backends[1]->set_weight(0);
  CHECK(sequence(p, 3) == "aaa");
}

TEST_CASE("weighted_round_robin keeps one exact sequence per worker") {
  auto backends = make_backends({5, 1, 1});
  weighted_round_robin p(backends, 3);
  std::string w[3];
  // Interleave the workers: none disturbs another's sequence.
  for (int i = 0; i < 14; ++i)
    for (unsigned k = 0; k < 3; ++k)
      w[k] += static_cast<char>('a' + p.pick({.worker = k}));
  for (auto& s : w)
    CHECK(s ==
          "aabacaa"
          "aabacaa");
}

TEST_CASE("weighted_round_robin retries avoid tried backends and keep long-run proportions") {
  auto backends = make_backends({5, 1, 1});
  weighted_round_robin p(backends, 1);
  for (int i = 0; i < 20; ++i)
    CHECK(p.pick({.tried = {0}}) != 0);
  CHECK(p.pick({.tried = {0, 1, 2}}) >= 0);  // all tried: a tried one rather than none

  // The tried backend kept earning while it was skipped, so it catches up afterwards.
  auto counts = tally::balancer::test::tally_picks(p, 700);
  CHECK(counts[0] > 500);
}

TEST_CASE("weighted_round_robin stays exact under concurrent workers") {
  constexpr unsigned threads = 4;
  constexpr int picks = 100000;
  constexpr int period = 7;
  auto backends = make_backends({5, 1, 1});
  weighted_round_robin p(backends, threads);

  std::vector<std::vector<int>> counts(threads, std::vector<int>(3, 0));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < picks; ++i)
        ++counts[t][static_cast<std::size_t>(p.pick({.worker = t}))];
    });
  for (auto& th : pool)
    th.join();

  int total[3] = {0, 0, 0};
  for (auto& c : counts)
    for (int i = 0; i < 3; ++i)
      total[i] += c[static_cast<std::size_t>(i)];
  const int all = static_cast<int>(threads) * picks;
  const int slack = static_cast<int>(threads) * period;
  CHECK(std::abs(total[0] - all * 5 / 7) <= slack);
  CHECK(std::abs(total[1] - all / 7) <= slack);
  CHECK(std::abs(total[2] - all / 7) <= slack);
  CHECK(total[0] + total[1] + total[2] == all);
}
