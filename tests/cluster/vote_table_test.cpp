#include <doctest/doctest.h>

#include "fake_clocks.hpp"
#include "tally/cluster/vote_table.hpp"

using namespace tally::cluster;
using namespace std::chrono_literals;
using tally::cluster::test::fake_clocks;

namespace {

const backend_key web1{"web", "127.0.0.1:9001"};
const backend_key web2{"web", "127.0.0.1:9002"};

struct three_nodes {
  fake_clocks clocks;
  vote_table table{"a", {"b", "c"}, 300ms, clocks.steady_fn()};
  std::uint64_t seq_b = 0, seq_c = 0;

  three_nodes() { table.set_backends({{web1, true}, {web2, true}}); }

  accept_result from(const std::string& node, bool up, const backend_key& key = web1) {
    auto& seq = node == "b" ? seq_b : seq_c;
    return table.accept({node, 7, ++seq}, {{key, up, 0}});
  }
};

}  // namespace

TEST_CASE("vote_table: quorum of three is two") {
  three_nodes t;
  CHECK(t.table.nodes() == 3);
  CHECK(t.table.quorum() == 2);
  vote_table two("a", {"b"}, 1s, t.clocks.steady_fn());
  CHECK(two.quorum() == 2);
  vote_table four("a", {"b", "c", "d"}, 1s, t.clocks.steady_fn());
  CHECK(four.quorum() == 3);
}

TEST_CASE("vote_table: one down vote of three keeps the backend up") {
  three_nodes t;
  t.table.record_local(web1, false, 0);
  t.from("b", true);
  t.from("c", true);
  CHECK(t.table.compute().empty());
  CHECK(t.table.verdict(web1) == true);
  CHECK(t.table.votes_down(web1) == 1);
}

TEST_CASE("vote_table: two down votes of three flip the verdict - two up votes flip it back") {
  three_nodes t;
  t.table.record_local(web1, false, 0);
  t.from("b", false);
  t.from("c", true);
  auto changes = t.table.compute();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].key == web1);
  CHECK(changes[0].up == false);
  CHECK(t.table.verdict(web1) == false);
  CHECK(t.table.verdict(web2) == true);
  CHECK(t.table.compute().empty());  // changes are reported once

  t.table.record_local(web1, true, 0);
  t.from("b", true);
  changes = t.table.compute();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].up == true);
}

TEST_CASE("vote_table: stale votes do not count and the previous verdict stands") {
  three_nodes t;
  t.from("b", false);
  t.from("c", false);
  t.clocks.advance(301ms);  // both peer votes expire
  t.table.record_local(web1, false, 0);
  CHECK(t.table.compute().empty());
  CHECK(t.table.verdict(web1) == true);
  CHECK(t.table.votes_down(web1) == 1);

  // The other direction: down by quorum, then the partition leaves only our own up vote.
  t.from("b", false);
  REQUIRE(t.table.compute().size() == 1);
  CHECK(t.table.verdict(web1) == false);
  t.clocks.advance(400ms);
  t.table.record_local(web1, true, 0);
  CHECK(t.table.compute().empty());
  CHECK(t.table.verdict(web1) == false);

  auto d = t.table.details(web1);
  REQUIRE(d);
  REQUIRE(d->votes.size() == 3);
  CHECK(d->votes[0].node == "a");
  CHECK(d->votes[0].fresh);
  CHECK(d->votes[1].node == "b");
  CHECK_FALSE(d->votes[1].fresh);
  CHECK(d->votes[1].age == 400ms);
  CHECK(d->fresh_up == 1);
  CHECK(d->fresh_down == 0);
}

TEST_CASE("vote_table: freshness is measured by receive time - not the sender's clock") {
  three_nodes t;
  // since_ms years in the past (a skewed sender clock) does not make the vote stale.
  t.table.accept({"b", 7, 1}, {{web1, false, 12}});
  t.table.record_local(web1, false, 0);
  CHECK(t.table.compute().size() == 1);
}

TEST_CASE("vote_table: a cluster of one follows its own vote") {
  fake_clocks clocks;
  vote_table solo("self", {}, 3s, clocks.steady_fn());
  solo.set_backends({{web1, true}});
  CHECK(solo.quorum() == 1);
  solo.record_local(web1, false, 0);
  CHECK(solo.compute().size() == 1);
  CHECK(solo.verdict(web1) == false);
  solo.record_local(web1, true, 0);
  CHECK(solo.compute().size() == 1);
  CHECK(solo.verdict(web1) == true);
}

TEST_CASE("vote_table: replayed and old sequence numbers are ignored") {
  three_nodes t;
  CHECK(t.table.accept({"b", 7, 5}, {{web1, true, 0}}) == accept_result::accepted);
  CHECK(t.table.accept({"b", 7, 5}, {{web1, false, 0}}) == accept_result::replayed);
  CHECK(t.table.accept({"b", 7, 4}, {{web1, false, 0}}) == accept_result::replayed);
  CHECK(t.table.ignored_replayed() == 2);
  CHECK(t.table.votes_down(web1) == 0);
  CHECK(t.table.accept({"b", 7, 6}, {{web1, false, 0}}) == accept_result::accepted);
  CHECK(t.table.votes_down(web1) == 1);
}

TEST_CASE("vote_table: a new incarnation is accepted from seq 1 - the old one is then a replay") {
  three_nodes t;
  CHECK(t.table.accept({"b", 7, 100}, {{web1, false, 0}}) == accept_result::accepted);
  // b restarted: new incarnation, sequence starts over.
  CHECK(t.table.accept({"b", 8, 1}, {{web1, true, 0}}) == accept_result::accepted);
  CHECK(t.table.votes_down(web1) == 0);
  CHECK(t.table.accept({"b", 8, 2}, {{web1, true, 0}}) == accept_result::accepted);
  // A recorded message of the previous life, replayed, changes nothing.
  CHECK(t.table.accept({"b", 7, 101}, {{web1, false, 0}}) == accept_result::replayed);
  CHECK(t.table.votes_down(web1) == 0);
}

TEST_CASE("vote_table: unknown backends and unknown nodes are ignored and counted") {
  three_nodes t;
  CHECK(t.table.accept({"b", 1, 1}, {{{"web", "10.0.0.1:1"}, false, 0},
                                     {{"nope", "127.0.0.1:9001"}, false, 0},
                                     {web1, false, 0}}) == accept_result::accepted);
  CHECK(t.table.ignored_unknown_backend() == 2);
  CHECK(t.table.votes_down(web1) == 1);
  CHECK(t.table.accept({"z", 1, 1}, {{web1, false, 0}}) == accept_result::unknown_node);
  CHECK(t.table.accept({"a", 1, 1}, {{web1, false, 0}}) == accept_result::unknown_node);
  CHECK(t.table.ignored_unknown_node() == 2);
  CHECK(t.table.votes_down(web1) == 1);
}

TEST_CASE("vote_table: set_backends keeps remaining backends' state and drops removed ones") {
  three_nodes t;
  t.table.record_local(web1, false, 0);
  t.from("b", false);
  t.table.compute();
  CHECK(t.table.verdict(web1) == false);
  const backend_key web3{"web", "127.0.0.1:9003"};
  t.table.set_backends({{web1, true}, {web3, false}});
  CHECK(t.table.verdict(web1) == false);  // kept, not reset to the initial value given
  CHECK(t.table.votes_down(web1) == 2);
  CHECK(t.table.verdict(web3) == false);  // new: starts from the value given
  CHECK_FALSE(t.table.verdict(web2));
}

TEST_CASE("vote_table: a forged new incarnation cannot retire a live peer - a newer one can") {
  three_nodes t;
  const hlc_timestamp at_100{100, 0, "b"};
  CHECK(t.table.accept({"b", 7, 1}, at_100, {{web1, true, 0}}) == accept_result::accepted);
  // Someone claims to be b with a made-up incarnation and an older (or equal) stamp: refused,
  // and the real b keeps talking.
  CHECK(t.table.accept({"b", 666, 1}, {99, 5, "b"}, {{web1, false, 0}}) ==
        accept_result::stale_incarnation);
  CHECK(t.table.accept({"b", 666, 2}, at_100, {{web1, false, 0}}) ==
        accept_result::stale_incarnation);
  CHECK(t.table.ignored_stale_incarnation() == 2);
  CHECK(t.table.votes_down(web1) == 0);
  CHECK(t.table.accept({"b", 7, 2}, {101, 0, "b"}, {{web1, true, 0}}) == accept_result::accepted);

  // A real restart stamps later than its previous life: accepted, the old life is retired.
  CHECK(t.table.accept({"b", 8, 1}, {102, 0, "b"}, {{web1, false, 0}}) == accept_result::accepted);
  CHECK(t.table.votes_down(web1) == 1);
  CHECK(t.table.accept({"b", 7, 3}, {200, 0, "b"}, {{web1, true, 0}}) == accept_result::replayed);
}

TEST_CASE("vote_table: a restarted peer whose clock is behind is accepted after a ttl of silence") {
  three_nodes t;
  CHECK(t.table.accept({"b", 7, 1}, {5000, 0, "b"}, {{web1, true, 0}}) == accept_result::accepted);
  CHECK(t.table.accept({"b", 8, 1}, {4000, 0, "b"}, {{web1, false, 0}}) ==
        accept_result::stale_incarnation);
  t.clocks.advance(300ms);  // the old life has been silent for the whole vote ttl
  CHECK(t.table.accept({"b", 8, 2}, {4001, 0, "b"}, {{web1, false, 0}}) == accept_result::accepted);
  CHECK(t.table.votes_down(web1) == 1);
}
