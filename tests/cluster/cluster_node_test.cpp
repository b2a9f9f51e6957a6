// cluster_node without the network: messages are fed to handle_votes() directly and rounds are
// run by hand, with stepped clocks.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "cluster_configs.hpp"
#include "fake_clocks.hpp"
#include "tally/cluster/cluster_node.hpp"
#include "tally/cluster/message.hpp"

using namespace tally;
using namespace tally::cluster;
using namespace std::chrono_literals;
using tally::cluster::test::fake_clocks;
using tally::cluster::test::three_node_config;

namespace {

struct node_fixture {
  boost::asio::io_context ioc;
  fake_clocks clocks;
  std::vector<std::string> log;
  std::shared_ptr<balancer::backend> b1 = std::make_shared<balancer::backend>("127.0.0.1:9001", 1);
  std::shared_ptr<balancer::backend> b2 = std::make_shared<balancer::backend>("127.0.0.1:9002", 1);
  cluster_node node;
  std::uint64_t seq = 0;

  explicit node_fixture(std::optional<config::cluster_config> cfg = three_node_config())
      : node(ioc, std::move(cfg), "", options()) {
    node.set_backends({{"web", b1}, {"web", b2}});
  }

  node_options options() {
    node_options o;
    o.steady_now = clocks.steady_fn();
    o.system_ms = clocks.wall_fn();
    o.log = [this](std::string_view line) { log.emplace_back(line); };
    o.incarnation = 1;
    return o;
  }

  votes_message message(const std::string& from, bool b1_up) {
    votes_message m;
    m.from = {from, 99, ++seq};
    m.hlc = {*clocks.wall_ms, 0, from};
    m.votes = {{{"web", "127.0.0.1:9001"}, b1_up, 0}, {{"web", "127.0.0.1:9002"}, true, 0}};
    return m;
  }
};

}  // namespace

TEST_CASE("cluster_node: two down votes of three set the backend down - with one log line") {
  node_fixture f;
  f.b1->set_local_up(false);
  f.node.run_round();
  CHECK(f.b1->up());  // one vote of three
  auto r = f.node.handle_votes(encode(f.message("b", false)), "");
  CHECK(r.status == 200);
  CHECK_FALSE(f.b1->up());
  CHECK(f.b2->up());
  CHECK(f.node.votes_down("web", "127.0.0.1:9001") == 2);
  REQUIRE(f.log.size() == 1);
  CHECK(f.log[0].find("127.0.0.1:9001 verdict DOWN") != std::string::npos);
}

TEST_CASE("cluster_node: malformed bodies get 400 and change nothing") {
  node_fixture f;
  f.node.run_round();
  const auto before = boost::json::serialize(f.node.status_json());
  for (std::string body :
       std::vector<std::string>{"garbage", "{}", R"({"node":"b","incarnation":"0000000000000063",
       "seq":1,"hlc":{"ms":1,"c":0,"node":"b"},"votes":[{"pool":"web"}],"changes":[]})",
                                std::string(300 * 1024, ' ')}) {
    auto r = f.node.handle_votes(body, "");
    CHECK(r.status == 400);
    CHECK(r.body.find("error") != std::string::npos);
  }
  CHECK(f.node.counters().messages_malformed == 4);
  auto after = f.node.status_json();
  after["counters"].as_object()["messages_malformed"] = 0;
  auto before_json = boost::json::parse(before);
  before_json.as_object()["counters"].as_object()["messages_malformed"] = 0;
  CHECK(boost::json::serialize(after) == boost::json::serialize(before_json));
}

TEST_CASE("cluster_node: a replayed message changes nothing") {
  node_fixture f;
  f.b1->set_local_up(false);
  f.node.run_round();
  auto down = encode(f.message("b", false));
  f.node.handle_votes(encode(f.message("b", true)), "");  // seq 2 arrives first
  auto r = f.node.handle_votes(down, "");                 // seq 1: old
  CHECK(r.status == 200);
  CHECK(r.body.find("\"accepted\":false") != std::string::npos);
  CHECK(f.b1->up());
  CHECK(f.node.counters().messages_replayed == 1);
}

TEST_CASE("cluster_node: votes and changes for unknown backends are ignored and counted") {
  node_fixture f;
  auto m = f.message("b", true);
  m.votes.push_back({{"web", "10.9.9.9:80"}, false, 0});
  m.changes.push_back({{"web", "10.9.9.9:80"}, change_field::drained, 1, {1, 0, "b"}});
  CHECK(f.node.handle_votes(encode(m), "").status == 200);
  auto c = f.node.counters();
  CHECK(c.votes_unknown_backend == 1);
  CHECK(c.changes_unknown_backend == 1);
  CHECK(f.node.admin_changes().empty());
}

TEST_CASE("cluster_node: admin changes apply locally and from peers - newest stamp wins") {
  node_fixture f;
  CHECK_FALSE(f.node.apply_admin_change("web", "10.9.9.9:80", admin_mutation::drain()));
  CHECK_FALSE(f.node.apply_admin_change("nope", "127.0.0.1:9001", admin_mutation::drain()));
  CHECK(f.node.apply_admin_change("web", "127.0.0.1:9001", admin_mutation::drain()));
  CHECK(f.b1->drained());
  CHECK(f.node.apply_admin_change("web", "127.0.0.1:9001", admin_mutation::weight(4)));
  CHECK(f.b1->weight() == 4);

  // A peer's older enable loses; its newer weight wins.
  auto m = f.message("b", true);
  const auto t = *f.clocks.wall_ms;
  m.changes = {{{"web", "127.0.0.1:9001"}, change_field::drained, 0, {t - 10, 0, "b"}},
               {{"web", "127.0.0.1:9001"}, change_field::weight, 9, {t + 10, 0, "b"}}};
  f.node.handle_votes(encode(m), "");
  CHECK(f.b1->drained());
  CHECK(f.b1->weight() == 9);
  // Our next change is stamped after the peer's (the HLC advanced on receipt).
  CHECK(f.node.apply_admin_change("web", "127.0.0.1:9001", admin_mutation::weight(2)));
  CHECK(f.b1->weight() == 2);
  for (const auto& c : f.node.admin_changes())
    if (c.field == change_field::weight) CHECK(c.stamp > hlc_timestamp{t + 10, 0, "b"});

  // A reload handing a new backend object for the same address re-applies the records.
  auto fresh = std::make_shared<balancer::backend>("127.0.0.1:9001", 1);
  f.node.set_backends({{"web", fresh}, {"web", f.b2}});
  CHECK(fresh->drained());
  CHECK(fresh->weight() == 2);
}

TEST_CASE("cluster_node: a cluster of one follows its own checks every round") {
  node_fixture f(std::nullopt);
  CHECK(f.node.node_id() == "self");
  CHECK(f.node.peers().empty());
  f.b1->set_local_up(false);
  f.node.run_round();
  CHECK_FALSE(f.b1->up());
  f.b1->set_local_up(true);
  f.node.run_round();
  CHECK(f.b1->up());
  auto s = f.node.status_json();
  CHECK(s["quorum"].to_number<int>() == 1);
  CHECK(s["backends"].as_array().size() == 2);
}

TEST_CASE("cluster_node: a backend restored down stays down until a quorum says up") {
  node_fixture f;
  auto b3 = std::make_shared<balancer::backend>("127.0.0.1:9003", 1);
  b3->set_up(false);  // e.g. a checkpoint verdict
  f.node.set_backends({{"web", f.b1}, {"web", f.b2}, {"web", b3}});
  f.node.run_round();  // our own up vote alone is not a quorum
  CHECK_FALSE(b3->up());
  auto m = f.message("c", true);
  m.votes.push_back({{"web", "127.0.0.1:9003"}, true, 0});
  f.node.handle_votes(encode(m), "");
  CHECK(b3->up());
}

TEST_CASE("cluster_node: status_json shows votes with ages and peers") {
  node_fixture f;
  f.node.run_round();
  f.node.handle_votes(encode(f.message("b", false)), "");
  f.clocks.advance(100ms);
  auto s = f.node.status_json();
  CHECK(s["node_id"].as_string() == "a");
  CHECK(s["nodes"].to_number<int>() == 3);
  const auto& b = s["backends"].as_array()[0].as_object();
  CHECK(b.at("backend").as_string() == "127.0.0.1:9001");
  CHECK(b.at("votes_down").to_number<int>() == 1);
  const auto& votes = b.at("votes").as_array();
  REQUIRE(votes.size() == 2);
  CHECK(votes[1].at("node").as_string() == "b");
  CHECK(votes[1].at("age_ms").as_int64() == 100);
  CHECK(f.node.backend_votes_json("web", "127.0.0.1:9001") == s["backends"].as_array()[0]);
  CHECK(f.node.backend_votes_json("web", "10.9.9.9:80").is_null());
  CHECK_FALSE(s.contains("peers"));  // /status lists them once, from peers()
  const auto peers = f.node.peers();
  REQUIRE(peers.size() == 2);
  CHECK(peers[0].id == "b");
  CHECK(peers[0].up == false);  // never exchanged
  REQUIRE(peers[0].since_heard.has_value());
  CHECK(peers[0].since_heard->count() == 100);
  CHECK_FALSE(peers[1].since_heard.has_value());
}
