// Three cluster_nodes in one process, each on its own io_context and thread, talking over real
// loopback sockets through votes_server. gossip_interval 50ms, vote_ttl 300ms; every wait is
// for a condition with a deadline.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
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
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto interval = 50ms;
constexpr auto ttl = 300ms;
const std::string addr1 = "127.0.0.1:9001";
const std::string addr2 = "127.0.0.1:9002";

// Polls `pred` until it holds or `limit` passes; returns how long it took (or nullopt).
std::optional<std::chrono::milliseconds> wait_for(const std::function<bool()>& pred,
                                                  std::chrono::milliseconds limit = 3s) {
  const auto start = clock_type::now();
  while (clock_type::now() - start < limit) {
    if (pred())
      return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
    std::this_thread::sleep_for(2ms);
  }
  if (pred()) return limit;
  return std::nullopt;
}

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
      cfg.gossip_interval = interval;
      cfg.vote_ttl = ttl;
      node_options opts;
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
  }
  ~cluster_fixture() {
    for (auto& x : r)
      x->halt();
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
  REQUIRE(wait_for([&] { return c.all_peers_up(); }));
  for (auto& x : c.r) {
    auto s = x->node->status_json();
    for (const auto& p : s["peers"].as_array()) {
      CHECK(p.at("up").as_bool());
      CHECK(p.at("last_seen_ms_ago").is_int64());
    }
    CHECK(x->node->counters().messages_malformed == 0);
  }
}

TEST_CASE("three nodes: one failing replica keeps the backend up everywhere - two flip it") {
  cluster_fixture c;
  REQUIRE(wait_for([&] { return c.all_peers_up(); }));

  c.r[0]->b1->set_local_up(false);
  // Everyone has seen lb-1's down vote...
  REQUIRE(wait_for(
      [&] { return c.all([](replica& x) { return x.node->votes_down("web", addr1) == 1; }); }));
  // ...and the verdict stays up on all three for a while (several gossip rounds).
  const auto held =
      wait_for([&] { return !c.all([&](replica& x) { return x.b1->up(); }); }, 6 * interval);
  CHECK_FALSE(held);

  // The second replica's checks fail: measured from that moment to the verdict being DOWN on all
  // three. Repeated to see the spread (the change waits for lb-2's next round: up to 1 interval).
  std::vector<long> down_ms, up_ms;
  for (int trial = 0; trial < 5; ++trial) {
    c.r[1]->b1->set_local_up(false);
    const auto flipped = wait_for([&] { return c.all([](replica& x) { return !x.b1->up(); }); });
    REQUIRE(flipped);
    down_ms.push_back(flipped->count());
    CHECK(*flipped <= 4 * interval);
    CHECK(c.all([](replica& x) { return x.b2->up(); }));

    c.r[1]->b1->set_local_up(true);
    const auto back = wait_for([&] { return c.all([](replica& x) { return x.b1->up(); }); });
    REQUIRE(back);
    up_ms.push_back(back->count());
  }
  std::sort(down_ms.begin(), down_ms.end());
  std::sort(up_ms.begin(), up_ms.end());
  MESSAGE("verdict DOWN on all three after (ms, sorted) "
          << down_ms[0] << " " << down_ms[1] << " " << down_ms[2] << " " << down_ms[3] << " "
          << down_ms[4] << "; UP again after " << up_ms[0] << " " << up_ms[1] << " " << up_ms[2]
          << " " << up_ms[3] << " " << up_ms[4]);
  for (auto& x : c.r) {
    std::lock_guard lock(x->log_mutex);
    CHECK(std::count_if(x->log.begin(), x->log.end(), [](const std::string& l) {
            return l.find("9001 verdict DOWN") != std::string::npos;
          }) == 5);
  }
}

TEST_CASE("three nodes: with two replicas gone the survivor keeps the last verdict") {
  cluster_fixture c;
  REQUIRE(wait_for([&] { return c.all_peers_up(); }));
  c.r[1]->halt();
  c.r[2]->halt();
  auto& survivor = *c.r[0];
  survivor.b1->set_local_up(false);
  // Its peers' votes go stale after vote_ttl; its own down vote alone is no quorum.
  REQUIRE(wait_for([&] {
    for (const auto& p : survivor.node->peers())
      if (p.up) return false;
    return true;
  }));
  CHECK_FALSE(wait_for([&] { return !survivor.b1->up(); }, 2 * ttl));
  CHECK(survivor.node->votes_down("web", addr1) == 1);
}

TEST_CASE("three nodes: a drain on one replica reaches the others within 3 gossip intervals") {
  cluster_fixture c;
  REQUIRE(wait_for([&] { return c.all_peers_up(); }));
  const auto start = clock_type::now();
  REQUIRE(c.r[2]->node->apply_admin_change("web", addr2, admin_mutation::drain()));
  const auto reached = wait_for([&] { return c.all([](replica& x) { return x.b2->drained(); }); });
  REQUIRE(reached);
  MESSAGE(
      "drain on all three after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count()
      << " ms");
  CHECK(*reached <= 3 * interval);
  CHECK_FALSE(c.r[0]->b1->drained());

  REQUIRE(c.r[0]->node->apply_admin_change("web", addr2, admin_mutation::enable()));
  REQUIRE(wait_for([&] { return c.all([](replica& x) { return !x.b2->drained(); }); }));
}

TEST_CASE("three nodes: concurrent conflicting weights converge to one value everywhere") {
  cluster_fixture c;
  REQUIRE(wait_for([&] { return c.all_peers_up(); }));
  std::thread t1(
      [&] { c.r[0]->node->apply_admin_change("web", addr1, admin_mutation::weight(3)); });
  std::thread t2(
      [&] { c.r[1]->node->apply_admin_change("web", addr1, admin_mutation::weight(8)); });
  t1.join();
  t2.join();
  REQUIRE(wait_for([&] {
    const auto w = c.r[0]->b1->weight();
    return (w == 3 || w == 8) && c.all([w](replica& x) { return x.b1->weight() == w; });
  }));
  // Stable: a few more rounds do not change it.
  const auto w = c.r[0]->b1->weight();
  CHECK_FALSE(wait_for([&] { return !c.all([w](replica& x) { return x.b1->weight() == w; }); },
                       4 * interval));
  for (auto& x : c.r)
    CHECK(x->node->admin_changes() == c.r[0]->node->admin_changes());
}

TEST_CASE("three nodes: the bearer token is sent - a wrong one gets 401 and the peer is down") {
  cluster_fixture c("s3cret", {"s3cret", "s3cret", "wrong"});
  // lb-1 and lb-2 reach each other; lb-3's requests are refused.
  REQUIRE(wait_for([&] {
    auto p1 = c.r[0]->node->peers();
    auto p2 = c.r[1]->node->peers();
    return p1[0].up && p2[0].up && c.r[0]->server.unauthorized > 0 &&
           c.r[1]->server.unauthorized > 0;
  }));
  CHECK(wait_for([&] {
    for (const auto& p : c.r[2]->node->peers())
      if (p.up || p.last_error != "HTTP 401") return false;
    return true;
  }));
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
