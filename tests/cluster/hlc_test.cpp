#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdint>

#include "tally/cluster/hlc.hpp"

using namespace tally::cluster;

namespace {
struct manual_wall {
  std::int64_t ms = 1000;
  system_ms_fn fn() {
    return [this] { return ms; };
  }
};
}  // namespace

TEST_CASE("hlc: now() is strictly monotonic even when the wall clock stalls or goes back") {
  manual_wall wall;
  hybrid_clock clock("a", wall.fn());
  auto t1 = clock.now();
  CHECK(t1.physical_ms == 1000);
  CHECK(t1.logical == 0);
  auto t2 = clock.now();  // same millisecond
  CHECK(t1 < t2);
  CHECK(t2.logical == 1);
  wall.ms = 900;  // clock stepped back
  auto t3 = clock.now();
  CHECK(t2 < t3);
  CHECK(t3.physical_ms == 1000);
  wall.ms = 1500;
  auto t4 = clock.now();
  CHECK(t3 < t4);
  CHECK(t4.physical_ms == 1500);
  CHECK(t4.logical == 0);
}

TEST_CASE("hlc: update() moves past a remote stamp from the future and stays ahead of it") {
  manual_wall wall;
  // 4s ahead is within this clock's bound; the default bound is tested below.
  hybrid_clock clock("a", wall.fn(), std::chrono::seconds(10));
  hlc_timestamp remote{5000, 7, "b"};
  auto t = clock.update(remote);
  CHECK(t.physical_ms == 5000);
  CHECK(t.logical == 8);
  CHECK(remote < t);
  CHECK(remote < clock.now());
  // Equal physical parts on both sides: the larger counter wins, plus one.
  auto t2 = clock.update({5000, 20, "c"});
  CHECK(t2.logical == 21);
  // A remote stamp from the past only ticks the counter.
  auto t3 = clock.update({10, 99, "c"});
  CHECK(t3.physical_ms == 5000);
  CHECK(t3.logical == 22);
  // Once the wall clock passes the adopted time, the counter resets.
  wall.ms = 6000;
  auto t4 = clock.update({10, 0, "c"});
  CHECK(t4.physical_ms == 6000);
  CHECK(t4.logical == 0);
}

TEST_CASE("hlc: a stamp further ahead than max_offset is refused - not adopted") {
  manual_wall wall;
  hybrid_clock clock("a", wall.fn());  // default bound: 500ms
  CHECK(clock.max_offset() == default_max_clock_offset);
  CHECK(clock.within_offset({1500, 0, "b"}));
  CHECK_FALSE(clock.within_offset({1501, 0, "b"}));
  CHECK(clock.ahead_by({1501, 0, "b"}) == std::chrono::milliseconds(501));
  CHECK(clock.ahead_by({10, 0, "b"}) == std::chrono::milliseconds(0));

  // A replica whose clock ran a year ahead: its stamp does not drag ours along.
  const std::int64_t year_ms = 365LL * 24 * 3600 * 1000;
  auto t = clock.update({1000 + year_ms, 0, "b"});
  CHECK(t.physical_ms == 1000);
  // One forged stamp at the maximum neither pins the clock nor overflows it.
  t = clock.update({INT64_MAX, UINT32_MAX, "evil"});
  CHECK(t.physical_ms == 1000);
  CHECK_FALSE(clock.within_offset({INT64_MAX, 0, "evil"}));
  CHECK(clock.ahead_by({INT64_MAX, 0, "evil"}).count() == INT64_MAX - 1000);
  // Our own later changes still win over an honest peer's, not over a poisoned one.
  wall.ms = 1200;
  CHECK(clock.now().physical_ms == 1200);
}

TEST_CASE("hlc: the bound moves with the wall clock - at INT64_MAX it saturates") {
  manual_wall wall;
  wall.ms = INT64_MAX - 10;
  hybrid_clock clock("a", wall.fn());
  CHECK(clock.within_offset({INT64_MAX, 0, "b"}));  // no overflow computing now + offset
  auto t = clock.update({INT64_MAX, UINT32_MAX, "b"});
  CHECK(t.physical_ms == INT64_MAX);  // nowhere to carry to: stays, does not wrap negative
  CHECK(t.logical == UINT32_MAX);
  CHECK(clock.now().physical_ms == INT64_MAX);
}

TEST_CASE("hlc: a counter at its maximum carries into the next millisecond instead of wrapping") {
  manual_wall wall;
  hybrid_clock clock("a", wall.fn());
  const hlc_timestamp remote{1000, UINT32_MAX, "b"};
  auto t = clock.update(remote);
  CHECK(remote < t);  // wrapping to 0 would have sorted it before the remote stamp
  CHECK(t.physical_ms == 1001);
  CHECK(t.logical == 0);
  // The same from now() on a clock that stands still.
  hybrid_clock still("c", wall.fn());
  auto a = still.update({1000, UINT32_MAX - 1, "b"});
  auto b = still.now();
  auto c = still.now();
  CHECK(a.logical == UINT32_MAX);
  CHECK(a < b);
  CHECK(b.physical_ms == 1001);
  CHECK(b.logical == 0);
  CHECK(b < c);
}

TEST_CASE("hlc: a causally later event is ordered after its cause on another node") {
  manual_wall wall_a, wall_b;
  wall_b.ms = 10;  // b's clock is far behind a's (a's stamps are within b's 10s bound)
  hybrid_clock a("a", wall_a.fn()), b("b", wall_b.fn(), std::chrono::seconds(10));
  auto sent = a.now();
  b.update(sent);
  auto later = b.now();
  CHECK(sent < later);
}

TEST_CASE("hlc: total order with the node id as the last tie-break") {
  hlc_timestamp x{100, 1, "a"}, y{100, 1, "b"}, z{100, 2, "a"}, w{101, 0, "a"};
  CHECK(x < y);
  CHECK(y < z);
  CHECK(z < w);
  CHECK(x == hlc_timestamp{100, 1, "a"});
  CHECK_FALSE(y < x);
}

TEST_CASE("hlc: JSON round trip and strict decoding") {
  hlc_timestamp t{1'700'000'000'123, 42, "lb-1"};
  auto v = to_json(t);
  auto back = hlc_from_json(boost::json::parse(boost::json::serialize(v)));
  REQUIRE(back);
  CHECK(*back == t);
  CHECK_FALSE(hlc_from_json(boost::json::parse(R"({"ms": 1, "c": 1})")));
  CHECK_FALSE(hlc_from_json(boost::json::parse(R"({"ms": "1", "c": 1, "node": "a"})")));
  CHECK_FALSE(hlc_from_json(boost::json::parse(R"({"ms": -1, "c": 1, "node": "a"})")));
  CHECK_FALSE(hlc_from_json(boost::json::parse(R"({"ms": 1, "c": 4294967296, "node": "a"})")));
  CHECK_FALSE(hlc_from_json(boost::json::parse(R"({"ms": 1.5, "c": 1, "node": "a"})")));
  CHECK_FALSE(hlc_from_json(boost::json::parse(R"([1, 1, "a"])")));
}
