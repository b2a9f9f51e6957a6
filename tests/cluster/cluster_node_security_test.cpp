// cluster_node against a hostile or broken peer: forged node ids, unsigned and replayed messages,
// stamps from far in the future, counters at their maximum. Messages are fed to handle_votes()
// directly, with stepped clocks.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include "cluster_configs.hpp"
#include "fake_clocks.hpp"
#include "tally/cluster/cluster_node.hpp"
#include "tally/cluster/message.hpp"
#include "tally/cluster/peer_auth.hpp"

using namespace tally;
using namespace tally::cluster;
using namespace std::chrono_literals;
using tally::cluster::test::fake_clocks;
using tally::cluster::test::three_node_config;

namespace {

const std::string token = "s3cret-token";
const std::string addr1 = "127.0.0.1:9001";
constexpr std::int64_t year_ms = 365LL * 24 * 3600 * 1000;

struct secure_node {
  boost::asio::io_context ioc;
  fake_clocks clocks;
  std::vector<std::string> log;
  std::shared_ptr<balancer::backend> b1 = std::make_shared<balancer::backend>(addr1, 1);
  cluster_node node;
  std::uint64_t seq = 0;

  explicit secure_node(std::string tok = token) : node(ioc, three_node_config(), tok, options()) {
    node.set_backends({{"web", b1}});
  }

  node_options options() {
    node_options o;
    o.steady_now = clocks.steady_fn();
    o.system_ms = clocks.wall_fn();
    o.log = [this](std::string_view line) { log.emplace_back(line); };
    o.incarnation = 1;
    return o;
  }

  votes_message message(const std::string& from, bool up, std::uint64_t incarnation = 99) {
    votes_message m;
    m.from = {from, incarnation, ++seq};
    m.hlc = {*clocks.wall_ms, 0, from};
    m.votes = {{{"web", addr1}, up, 0}};
    return m;
  }

  // Signed now, with `with` (the shared token by default).
  votes_reply send(const votes_message& m, const std::string& with = token) {
    const auto body = encode(m);
    return node.handle_votes(body, sign_message(with, *clocks.wall_ms, body));
  }

  std::uint64_t rejected(std::string_view reason) const {
    for (const auto& r : rejected_by_reason(node.counters()))
      if (r.reason == reason) return r.count;
    FAIL("no reason " << reason);
    return 0;
  }
};

}  // namespace

TEST_CASE("cluster security: a signed message from a configured peer is accepted") {
  secure_node f;
  auto r = f.send(f.message("b", false));
  CHECK(r.status == 200);
  CHECK(r.body.find("\"accepted\":true") != std::string::npos);
  CHECK(f.node.votes_down("web", addr1) == 1);
}

TEST_CASE("cluster security: unsigned, badly signed and wrong-token messages get 401 and count") {
  secure_node f;
  const auto body = encode(f.message("b", false));
  CHECK(f.node.handle_votes(body, "").status == 401);
  CHECK(f.node.handle_votes(body, "t=1,sig=00").status == 401);
  CHECK(f.send(f.message("b", false), "wrong-token").status == 401);
  // A valid signature over another body does not carry over.
  const auto other = encode(f.message("b", true));
  CHECK(f.node.handle_votes(body, sign_message(token, *f.clocks.wall_ms, other)).status == 401);
  CHECK(f.node.votes_down("web", addr1) == 0);
  CHECK(f.rejected("bad_signature") == 4);
  CHECK(f.node.counters().messages_accepted == 0);
  // One log line that says what to do, not one per message.
  REQUIRE(f.log.size() == 1);
  CHECK(f.log[0].find("same admin token") != std::string::npos);
}

TEST_CASE("cluster security: a forged node id is refused even with a valid signature") {
  secure_node f;
  CHECK(f.send(f.message("mallory", false)).body.find("unknown node") != std::string::npos);
  CHECK(f.send(f.message("a", false)).body.find("unknown node") != std::string::npos);  // us
  CHECK(f.node.votes_down("web", addr1) == 0);
  CHECK(f.rejected("unknown_node") == 2);
}

TEST_CASE("cluster security: a captured message replayed is refused - now or much later") {
  secure_node f;
  const auto body = encode(f.message("b", false));
  const auto header = sign_message(token, *f.clocks.wall_ms, body);
  CHECK(f.node.handle_votes(body, header).status == 200);
  // The same bytes again within the window: (incarnation, seq) is not newer.
  auto again = f.node.handle_votes(body, header);
  CHECK(again.status == 200);
  CHECK(again.body.find("\"accepted\":false") != std::string::npos);
  CHECK(f.rejected("replay") == 1);
  // After the window (vote_ttl + max_clock_offset) the signature itself is too old.
  f.clocks.advance(801ms);
  CHECK(f.node.handle_votes(body, header).status == 409);
  CHECK(f.rejected("replay") == 2);
}

TEST_CASE("cluster security: a message stamped a year ahead is refused and changes nothing") {
  secure_node f;
  auto m = f.message("b", false);
  m.hlc.physical_ms += year_ms;
  m.changes = {{{"web", addr1}, change_field::drained, 1, m.hlc}};
  const auto hlc_before = boost::json::serialize(f.node.status_json()["hlc"]);
  auto r = f.send(m);
  CHECK(r.status == 409);
  CHECK(r.body.find("clock_offset") != std::string::npos);
  CHECK_FALSE(f.b1->drained());
  CHECK(f.node.admin_changes().empty());
  CHECK(f.node.votes_down("web", addr1) == 0);
  CHECK(boost::json::serialize(f.node.status_json()["hlc"]) == hlc_before);
  CHECK(f.rejected("clock_offset") == 1);
  REQUIRE_FALSE(f.log.empty());
  CHECK(f.log.back().find("fix that replica's clock") != std::string::npos);

  // A signature stamped ahead of our clock is the same problem, caught before parsing.
  const auto body = encode(f.message("b", false));
  CHECK(f.node.handle_votes(body, sign_message(token, *f.clocks.wall_ms + 501, body)).status ==
        409);
  CHECK(f.rejected("clock_offset") == 2);
}

TEST_CASE("cluster security: a drain stamped at INT64_MAX cannot pin the backend") {
  secure_node f;
  auto m = f.message("b", true);
  // The message itself is honest; one change record in it is poisoned.
  m.changes = {{{"web", addr1}, change_field::drained, 1, {INT64_MAX, UINT32_MAX, "b"}}};
  CHECK(f.send(m).status == 200);
  CHECK_FALSE(f.b1->drained());
  CHECK(f.node.counters().changes_clock_offset == 1);
  // The operator's enable and drain still work, and win.
  CHECK(f.node.apply_admin_change("web", addr1, admin_mutation::drain()));
  CHECK(f.b1->drained());
  CHECK(f.node.apply_admin_change("web", addr1, admin_mutation::enable()));
  CHECK_FALSE(f.b1->drained());

  // The same poisoned record from a checkpoint is refused too.
  f.node.restore_admin_changes({{{"web", addr1}, change_field::drained, 1, {INT64_MAX, 0, "b"}}});
  CHECK_FALSE(f.b1->drained());
  CHECK(f.node.counters().changes_clock_offset == 2);
}

TEST_CASE(
    "cluster security: a change within the offset is accepted - a counter at its maximum does "
    "not wrap") {
  secure_node f;
  auto m = f.message("b", true);
  const hlc_timestamp edge{*f.clocks.wall_ms + 500, UINT32_MAX, "b"};
  m.changes = {{{"web", addr1}, change_field::weight, 7, edge}};
  CHECK(f.send(m).status == 200);
  CHECK(f.b1->weight() == 7);
  // Our next change must be stamped after it, without the counter wrapping to 0.
  CHECK(f.node.apply_admin_change("web", addr1, admin_mutation::weight(3)));
  CHECK(f.b1->weight() == 3);
  for (const auto& c : f.node.admin_changes())
    if (c.field == change_field::weight) CHECK(edge < c.stamp);
}

TEST_CASE("cluster security: a weight beyond the API's range from a peer is malformed") {
  secure_node f;
  auto m = f.message("b", true);
  m.changes = {{{"web", addr1}, change_field::weight, 4'000'000'000u, m.hlc}};
  CHECK(f.send(m).status == 400);
  CHECK(f.b1->weight() == 1);
  CHECK(f.rejected("malformed") == 1);
}

TEST_CASE("cluster security: a message with a new incarnation cannot retire a live peer") {
  secure_node f;
  CHECK(f.send(f.message("b", true, 7)).status == 200);
  // Same peer id, made-up incarnation, stamped before what b last sent: b stays.
  auto forged = f.message("b", false, 666);
  forged.hlc.physical_ms -= 10;
  auto r = f.send(forged);
  CHECK(r.body.find("stale incarnation") != std::string::npos);
  CHECK(f.rejected("stale_incarnation") == 1);
  CHECK(f.node.votes_down("web", addr1) == 0);
  f.clocks.advance(1ms);
  CHECK(f.send(f.message("b", true, 7)).body.find("\"accepted\":true") != std::string::npos);
}

TEST_CASE("cluster security: set_token rotates the key - status never shows it") {
  secure_node f;
  f.node.set_token("rotated");
  CHECK(f.send(f.message("b", false)).status == 401);
  CHECK(f.send(f.message("b", false), "rotated").status == 200);
  const auto status = boost::json::serialize(f.node.status_json());
  CHECK(status.find("rotated") == std::string::npos);
  CHECK(status.find(token) == std::string::npos);
  CHECK(f.node.status_json()["authenticated"].as_bool());
  CHECK(f.node.status_json()["max_clock_offset_ms"].as_int64() == 500);
}

TEST_CASE("cluster security: without a token nothing is signed or demanded (loopback only)") {
  secure_node f("");
  const auto body = encode(f.message("b", false));
  CHECK(f.node.handle_votes(body, "").status == 200);
  CHECK_FALSE(f.node.status_json()["authenticated"].as_bool());
}

TEST_CASE("cluster security: rejected_by_reason lists every reason in a fixed order") {
  cluster_counters c;
  c.messages_malformed = 1;
  c.messages_bad_signature = 2;
  c.messages_clock_offset = 3;
  c.messages_replayed = 4;
  c.messages_stale_incarnation = 5;
  c.messages_unknown_node = 6;
  const auto r = rejected_by_reason(c);
  const char* names[] = {"malformed", "bad_signature",     "clock_offset",
                         "replay",    "stale_incarnation", "unknown_node"};
  for (std::size_t i = 0; i < r.size(); ++i) {
    CHECK(r[i].reason == names[i]);
    CHECK(r[i].count == i + 1);
  }
}
