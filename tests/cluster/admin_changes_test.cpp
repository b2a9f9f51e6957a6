#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include "tally/cluster/admin_changes.hpp"

using namespace tally::cluster;

namespace {

const backend_key web1{"web", "127.0.0.1:9001"};

struct replica {
  std::int64_t wall_ms;
  hybrid_clock clock;
  admin_change_set set{clock};
  replica(std::string id, std::int64_t start)
      : wall_ms(start), clock(std::move(id), [this] { return wall_ms; }) {}
  std::optional<std::uint32_t> weight() const {
    for (const auto& c : set.all())
      if (c.key == web1 && c.field == change_field::weight) return c.value;
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("admin_changes: a local change is stamped and recorded - newer wins - older is ignored") {
  replica a("a", 1000);
  auto c1 = a.set.local_change(web1, change_field::weight, 5);
  CHECK(c1.stamp.node == "a");
  auto c2 = a.set.local_change(web1, change_field::weight, 9);
  CHECK(c1.stamp < c2.stamp);
  CHECK(a.weight() == 9u);
  // Re-offering the older record (a late or replayed message) changes nothing.
  CHECK(a.set.merge({c1}).empty());
  CHECK(a.weight() == 9u);
  // Fields are independent.
  a.set.local_change(web1, change_field::drained, 1);
  CHECK(a.set.all().size() == 2);
  CHECK(a.set.for_backend(web1).size() == 2);
}

TEST_CASE("admin_changes: concurrent conflicting weights converge whatever the exchange order") {
  for (int order = 0; order < 2; ++order) {
    CAPTURE(order);
    // b's clock runs ahead (within max_clock_offset); a's change is made later in real time but
    // with an older clock.
    replica a("a", 1000), b("b", 1400);
    a.set.local_change(web1, change_field::weight, 3);
    b.set.local_change(web1, change_field::weight, 7);
    if (order == 0) {
      a.set.merge(b.set.all());
      b.set.merge(a.set.all());
    } else {
      b.set.merge(a.set.all());
      a.set.merge(b.set.all());
    }
    CHECK(a.weight() == b.weight());
    CHECK(a.weight() == 7u);  // the larger HLC
    CHECK(a.set.all() == b.set.all());
  }
}

TEST_CASE("admin_changes: identical clocks tie-break on node id") {
  replica a("a", 1000), b("b", 1000);
  a.set.local_change(web1, change_field::weight, 3);
  b.set.local_change(web1, change_field::weight, 7);
  a.set.merge(b.set.all());
  b.set.merge(a.set.all());
  CHECK(a.weight() == 7u);  // ("b" > "a")
  CHECK(b.weight() == 7u);
}

TEST_CASE("admin_changes: a change made after seeing another wins even with a slower clock") {
  replica a("a", 1000), b("b", 1400);
  b.set.local_change(web1, change_field::weight, 7);
  a.set.merge(b.set.all());  // a's HLC jumps to b's time
  a.set.local_change(web1, change_field::weight, 2);
  b.set.merge(a.set.all());
  CHECK(a.weight() == 2u);
  CHECK(b.weight() == 2u);
}

TEST_CASE("admin_changes: retain drops records of removed backends") {
  replica a("a", 1000);
  a.set.local_change(web1, change_field::drained, 1);
  a.set.local_change({"web", "127.0.0.1:9002"}, change_field::drained, 1);
  a.set.retain({web1});
  REQUIRE(a.set.all().size() == 1);
  CHECK(a.set.all()[0].key == web1);
}

TEST_CASE("admin_changes: a record stamped beyond max_clock_offset is refused - not adopted") {
  // b's clock runs 4s ahead: a refuses b's records instead of letting them outrank its own.
  replica a("a", 1000), b("b", 5000);
  a.set.local_change(web1, change_field::weight, 3);
  b.set.local_change(web1, change_field::drained, 1);
  CHECK(a.set.merge(b.set.all()).empty());
  CHECK(a.set.refused_ahead() == 1);
  CHECK(a.set.all().size() == 1);
  CHECK(a.clock.current().physical_ms == 1000);  // not dragged 4s ahead
  // Within the bound it is accepted once a's wall clock catches up.
  a.wall_ms = 4600;
  CHECK(a.set.merge(b.set.all()).size() == 1);
}

TEST_CASE("admin_changes: a weight above 1000 or an empty origin node does not decode") {
  auto weight = [](const char* v) {
    return boost::json::parse(
        std::string(R"({"pool":"web","backend":"b","field":"weight","value":)") + v +
        R"(,"hlc":{"ms":1,"c":0,"node":"a"}})");
  };
  CHECK(admin_change_from_json(weight("1000"), 512));
  CHECK_FALSE(admin_change_from_json(weight("1001"), 512));
  CHECK_FALSE(admin_change_from_json(weight("4294967295"), 512));
  CHECK_FALSE(admin_change_from_json(
      boost::json::parse(R"({"pool":"web","backend":"b","field":"drained","value":true,)"
                         R"("hlc":{"ms":1,"c":0,"node":""}})"),
      512));
}
