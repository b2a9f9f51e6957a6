#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "../../balancer/src/consistent_hash.hpp"
#include "fixtures.hpp"
#include "tally/balancer/hash.hpp"

using namespace tally::balancer;
using tally::balancer::test::make_backends;
using tally::balancer::test::make_equal_backends;

namespace {
constexpr int keys = 100000;

std::uint64_t key(int i) {
  return hash_bytes("client-" + std::to_string(i));
}

// The backend address each key lands on.
std::vector<std::string> assign(consistent_hash& p, const backend_list& backends) {
  std::vector<std::string> out;
  out.reserve(keys);
  for (int i = 0; i < keys; ++i) {
    int idx = p.pick({.hash = key(i)});
    out.push_back(idx < 0 ? "" : backends[static_cast<std::size_t>(idx)]->address());
  }
  return out;
}
}  // namespace

TEST_CASE("consistent_hash sends a key to the same backend in every instance") {
  auto backends = make_equal_backends(5);
  consistent_hash a(backends);
  consistent_hash b(make_equal_backends(5));  // other objects, same addresses
  for (int i = 0; i < 1000; ++i)
    CHECK(a.pick({.hash = key(i)}) == b.pick({.hash = key(i)}));
  // Order of the list does not matter either: the table follows addresses.
  backend_list reversed(backends.rbegin(), backends.rend());
  consistent_hash c(reversed);
  for (int i = 0; i < 1000; ++i)
    CHECK(backends[static_cast<std::size_t>(a.pick({.hash = key(i)}))]->address() ==
          reversed[static_cast<std::size_t>(c.pick({.hash = key(i)}))]->address());
}

TEST_CASE("consistent_hash spreads keys evenly") {
  auto backends = make_equal_backends(5);
  consistent_hash p(backends);
  std::vector<int> counts(5, 0);
  for (int i = 0; i < keys; ++i)
    ++counts[static_cast<std::size_t>(p.pick({.hash = key(i)}))];
  for (int c : counts) {
    CHECK(c > keys / 5 * 8 / 10);
    CHECK(c < keys / 5 * 12 / 10);
  }
}

TEST_CASE("consistent_hash honours weights") {
  auto backends = make_backends({3, 1, 0});
  consistent_hash p(backends);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < keys; ++i)
    ++counts[static_cast<std::size_t>(p.pick({.hash = key(i)}))];
  CHECK(counts[2] == 0);
  CHECK(counts[0] > keys * 70 / 100);
  CHECK(counts[0] < keys * 80 / 100);
}

TEST_CASE("consistent_hash moves few keys when a backend is removed") {
  auto five = make_equal_backends(5);
  backend_list four(five.begin(), five.begin() + 2);
  four.insert(four.end(), five.begin() + 3, five.end());  // 10.0.0.3 removed
  consistent_hash before(five);
  consistent_hash after(four);
  auto a = assign(before, five);
  auto b = assign(after, four);
  int moved = 0;
  for (int i = 0; i < keys; ++i)
    moved += a[static_cast<std::size_t>(i)] != b[static_cast<std::size_t>(i)];
  CHECK(moved <= keys / 5 + keys * 5 / 100);
}

TEST_CASE("consistent_hash moves only an ineligible backend's keys - and spreads them") {
  auto backends = make_equal_backends(5);
  consistent_hash p(backends);
  auto before = assign(p, backends);

  SUBCASE("down") {
    backends[2]->set_up(false);
  }
  SUBCASE("ejected") {
    backends[2]->set_ejected(true);
  }
  SUBCASE("drained") {
    backends[2]->set_drained(true);
  }

  auto after = assign(p, backends);
  const auto& gone = backends[2]->address();
  std::map<std::string, int> heirs;
  int others_moved = 0;
  int still_on_gone = 0;
  for (int i = 0; i < keys; ++i) {
    const auto& was = before[static_cast<std::size_t>(i)];
    const auto& now = after[static_cast<std::size_t>(i)];
    if (was != gone) {
      others_moved += now != was;
    } else {
      still_on_gone += now == gone;
      ++heirs[now];
    }
  }
  CHECK(others_moved == 0);
  CHECK(still_on_gone == 0);
  // Its keys spread over all four others, not onto a single neighbour.
  CHECK(heirs.size() == 4);
  for (auto& [addr, n] : heirs)
    CHECK(n > 1000);

  backends[2]->set_up(true);
  backends[2]->set_ejected(false);
  backends[2]->set_drained(false);
  CHECK(assign(p, backends) == before);
}

TEST_CASE("consistent_hash retries walk to another backend") {
  auto backends = make_equal_backends(3);
  consistent_hash p(backends);
  for (int i = 0; i < 200; ++i) {
    const int first = p.pick({.hash = key(i)});
    const tried_set tried{static_cast<std::size_t>(first)};
    const int second = p.pick({.hash = key(i), .tried = tried});
    CHECK(second != first);
    CHECK(second == p.pick({.hash = key(i), .tried = tried}));     // stable per key
    CHECK(p.pick({.hash = key(i), .tried = {0, 1, 2}}) == first);  // all tried: the home one
  }
}

TEST_CASE("consistent_hash returns -1 when nothing is eligible") {
  auto zero = make_backends({0, 0});
  consistent_hash empty(zero);
  CHECK(empty.pick({.hash = 1}) == -1);

  auto backends = make_backends({1, 0});
  consistent_hash p(backends);
  backends[0]->set_up(false);
  // Backend 1 is eligible again by weight but owns no slots since the build.
  backends[1]->set_weight(1);
  CHECK(p.pick({.hash = 1}) == -1);
}
