// Three cluster_nodes in one process, each on its own io_context and thread, talking over real
// loopback sockets through votes_server. Time does not drive them: the gossip interval is an hour
// (a node's only timed round is the first, at start()), the test runs each round itself and waits
// for its POSTs to finish, and vote and peer ages come from a clock the test advances. So every
// assertion counts rounds, and a slow machine only makes the test take longer.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "tally/cluster/cluster_node.hpp"
#include "votes_server.hpp"

using namespace tally;
using namespace tally::cluster;
using namespace std::chrono_literals;
using tally::cluster::test::votes_server;

namespace {

constexpr auto ttl = 300ms;
const std::string addr1 = "127.0.0.1:9001";
const std::string addr2 = "127.0.0.1:9002";

// Polls `pred` until it holds or `limit` passes. The limit only turns a hang into a failure.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// The steady clock every replica reads for vote and peer ages.
struct manual_clock {
  std::atomic<std::int64_t> ms{1'000'000};
  steady_time now() const { return steady_time(std::chrono::milliseconds(ms.load())); }
  void advance(std::chrono::milliseconds d) { ms += d.count(); }
};

struct replica {
  boost::asio::io_context ioc;
  votes_server server;
  std::shared_ptr<balancer::backend> b1 = std::make_shared<balancer::backend>(addr1, 1);
  std::shared_ptr<balancer::backend> b2 = std::make_shared<balancer::backend>(addr2, 1);
  std::unique_ptr<cluster_node> node;
  std::thread thread;
  std::mutex log_mutex;
  std::vector<std::string> log;

  explicit replica(const std::string& server_token) : server(ioc, server_token) {}

  void halt() {
    if (!thread.joinable()) return;
    node->stop();
    server.stop();
    ioc.stop();
    thread.join();
  }
};

struct cluster_fixture {
  manual_clock clock;
  std::array<std::unique_ptr<replica>, 3> r;

  // `server_token` is what each replica's listener demands; `client_tokens[i]` what node i sends.
  explicit cluster_fixture(const std::string& server_token = "",
                           std::array<std::string, 3> client_tokens = {}) {
    for (auto& x : r)
      x = std::make_unique<replica>(server_token);
    for (std::size_t i = 0; i < 3; ++i) {
      config::cluster_config cfg;
      cfg.node_id = "lb-" + std::to_string(i + 1);
      for (std::size_t j = 0; j < 3; ++j) {
        if (j == i) continue;
        const auto port = r[j]->server.port();
        cfg.peers.push_back({"lb-" + std::to_string(j + 1),
                             {"127.0.0.1", port, "127.0.0.1:" + std::to_string(port)}});
      }
      cfg.gossip_interval = std::chrono::hours(1);
      cfg.vote_ttl = ttl;
      node_options opts;
      opts.steady_now = [this] { return clock.now(); };
      opts.log = [x = r[i].get()](std::string_view line) {
        std::lock_guard lock(x->log_mutex);
        x->log.emplace_back(line);
      };
      r[i]->node = std::make_unique<cluster_node>(r[i]->ioc, cfg, client_tokens[i], opts);
      r[i]->node->set_backends({{"web", r[i]->b1}, {"web", r[i]->b2}});
      r[i]->server.set_node(r[i]->node.get());
    }
    for (auto& x : r) {
      x->server.start();
      x->node->start();
      x->thread = std::thread([p = x.get()] { p->ioc.run(); });
    }
    // start() runs the first round on each node's thread; the test's rounds come after it.
    REQUIRE(
        wait_for([&] { return all([](replica& x) { return x.node->counters().rounds >= 1; }); }));
  }
  ~cluster_fixture() {
    for (auto& x : r)
      x->halt();
  }

  // Waits until none of node i's POSTs is under way: each has been answered (and so applied by
  // the peer) or has failed.
  void settle(std::size_t i) {
    REQUIRE(wait_for([&] {
      for (const auto& p : r[i]->node->peers())
        if (p.in_flight) return false;
      return true;
    }));
  }
  // One gossip round of node i, complete: the clock ticks, it votes and POSTs, the peers apply it.
  void gossip(std::size_t i) {
    settle(i);  // a round skips a peer whose previous POST is still under way
    clock.advance(1ms);
    r[i]->node->run_round();
    settle(i);
  }
  void gossip_all() {
    for (std::size_t i = 0; i < r.size(); ++i)
      gossip(i);
  }

  bool all(const std::function<bool(replica&)>& pred) {
    for (auto& x : r)
      if (!pred(*x)) return false;
    return true;
  }
  bool all_peers_up() {
    return all([](replica& x) {
      for (const auto& p : x.node->peers())
        if (!p.up) return false;
      return true;
    });
  }
};

}  // namespace

TEST_CASE("three nodes: peers come up and see each other") {
  cluster_fixture c;
  c.gossip_all();
  REQUIRE(c.all_peers_up());
  for (auto& x : c.r) {
    for (const auto& p : x->node->peers()) {
      CHECK(p.up);
      CHECK(p.since_heard.has_value());
    }
    CHECK(x->node->counters().messages_malformed == 0);
  }
}

TEST_CASE("three nodes: one failing replica keeps the backend up everywhere - two flip it") {
  cluster_fixture c;
  c.gossip_all();
  REQUIRE(c.all_peers_up());

  c.r[0]->b1->set_local_up(false);
  c.gossip(0);
  // Everyone has seen lb-1's down vote...
  REQUIRE(c.all([](replica& x) { return x.node->votes_down("web", addr1) == 1; }));
  // ...and the verdict stays up on all three through several rounds of everyone.
  for (int round = 0; round < 6; ++round) {
    c.gossip_all();
    CHECK(c.all([](replica& x) { return x.b1->up(); }));
  }

  // The second replica's checks fail: its next round turns the verdict DOWN on all three (lb-2
  // counts its own vote at once, the others on receipt), and back UP the same way. Repeated,
  // since one flip could be luck.
  for (int trial = 0; trial < 5; ++trial) {
    c.r[1]->b1->set_local_up(false);
    c.gossip(1);
    CHECK(c.all([](replica& x) { return !x.b1->up(); }));
    CHECK(c.all([](replica& x) { return x.b2->up(); }));

    c.r[1]->b1->set_local_up(true);
    c.gossip(1);
    CHECK(c.all([](replica& x) { return x.b1->up(); }));
  }
  for (auto& x : c.r) {
    std::lock_guard lock(x->log_mutex);
    CHECK(std::count_if(x->log.begin(), x->log.end(), [](const std::string& l) {
            return l.find("9001 verdict DOWN") != std::string::npos;
          }) == 5);
  }
}

TEST_CASE("three nodes: with two replicas gone the survivor keeps the last verdict") {
  cluster_fixture c;
  c.gossip_all();
  REQUIRE(c.all_peers_up());
  c.r[1]->halt();
  c.r[2]->halt();
  auto& survivor = *c.r[0];
  survivor.b1->set_local_up(false);
  // Its peers' votes, and the peers themselves, go stale after vote_ttl; its own down vote alone
  // is no quorum, however many rounds it runs.
  c.clock.advance(ttl);
  for (int round = 0; round < 4; ++round) {
    c.gossip(0);
    CHECK(survivor.b1->up());
  }
  for (const auto& p : survivor.node->peers())
    CHECK_FALSE(p.up);
  CHECK(survivor.node->votes_down("web", addr1) == 1);
}

TEST_CASE("three nodes: a drain on one replica reaches the others with its own POSTs") {
  cluster_fixture c;
  c.gossip_all();
  REQUIRE(c.all_peers_up());
  // No round is run after the change: apply_admin_change sends it at once.
  REQUIRE(c.r[2]->node->apply_admin_change("web", addr2, admin_mutation::drain()));
  c.settle(2);
  CHECK(c.all([](replica& x) { return x.b2->drained(); }));
  CHECK_FALSE(c.r[0]->b1->drained());

  REQUIRE(c.r[0]->node->apply_admin_change("web", addr2, admin_mutation::enable()));
  c.settle(0);
  CHECK(c.all([](replica& x) { return !x.b2->drained(); }));
}

TEST_CASE("three nodes: concurrent conflicting weights converge to one value everywhere") {
  cluster_fixture c;
  c.gossip_all();
  REQUIRE(c.all_peers_up());
  std::thread t1(
      [&] { c.r[0]->node->apply_admin_change("web", addr1, admin_mutation::weight(3)); });
  std::thread t2(
      [&] { c.r[1]->node->apply_admin_change("web", addr1, admin_mutation::weight(8)); });
  t1.join();
  t2.join();
  c.settle(0);
  c.settle(1);
  // Each replica has sent its own record; one more round of everyone spreads the winner.
  c.gossip_all();
  const auto w = c.r[0]->b1->weight();
  CHECK((w == 3 || w == 8));
  CHECK(c.all([w](replica& x) { return x.b1->weight() == w; }));
  // Stable: more rounds do not change it.
  for (int round = 0; round < 4; ++round) {
    c.gossip_all();
    CHECK(c.all([w](replica& x) { return x.b1->weight() == w; }));
  }
  for (auto& x : c.r)
    CHECK(x->node->admin_changes() == c.r[0]->node->admin_changes());
}

TEST_CASE("three nodes: the bearer token is sent - a wrong one gets 401 and the peer is down") {
  cluster_fixture c("s3cret", {"s3cret", "s3cret", "wrong"});
  c.gossip_all();
  // lb-1 and lb-2 reach each other; lb-3's requests are refused.
  CHECK(c.r[0]->node->peers()[0].up);
  CHECK(c.r[1]->node->peers()[0].up);
  CHECK(c.r[0]->server.unauthorized > 0);
  CHECK(c.r[1]->server.unauthorized > 0);
  for (const auto& p : c.r[2]->node->peers()) {
    CHECK_FALSE(p.up);
    CHECK(p.last_error == "HTTP 401");
  }
  CHECK(c.r[2]->server.unauthorized == 0);
}

TEST_CASE("three nodes: with a shared token every message is signed - and accepted") {
  cluster_fixture c("s3cret", {"s3cret", "s3cret", "s3cret"});
  REQUIRE(wait_for([&] { return c.all_peers_up(); }));
  REQUIRE(c.r[1]->node->apply_admin_change("web", addr1, admin_mutation::drain()));
  REQUIRE(wait_for([&] { return c.all([](replica& x) { return x.b1->drained(); }); }));
  for (auto& x : c.r) {
    const auto counters = x->node->counters();
    CHECK(counters.messages_accepted > 0);
    for (const auto& r : rejected_by_reason(counters))
      if (r.reason != "replay") CHECK_MESSAGE(r.count == 0, r.reason);
    CHECK(x->node->status_json()["authenticated"].as_bool());
  }
}

TEST_CASE("three nodes: a replica with another token is refused by signature and says why") {
  // Every listener lets the Bearer token through; lb-3 signs with a different key.
  cluster_fixture c("", {"s3cret", "s3cret", "other"});
  REQUIRE(wait_for([&] { return c.r[0]->node->counters().messages_bad_signature > 0; }));
  CHECK(wait_for([&] {
    for (const auto& p : c.r[2]->node->peers())
      if (p.up || p.last_error.find("HTTP 401: X-Tally-Signature does not match") != 0)
        return false;
    return true;
  }));
}
