// Several replicas in one process, each a full tally with its own admin listener, voting on
// real backends; and the checkpoint across a kill -9 and from a peer.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/proxy_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "tally/cluster/peer_auth.hpp"

using namespace tally::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct replica_spec {
  std::string id;
  std::uint16_t admin_port;
  std::string health_path = "/healthz";
};

std::string replica_yaml(const replica_spec& self, const std::vector<replica_spec>& all,
                         const std::vector<std::string>& backends, const std::string& extra = "") {
  std::string y =
      "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:" + std::to_string(self.admin_port) +
      ", token: t0k }\nworkers: 1\naccess_log: { enabled: false }\npools:\n  web:\n    backends:\n";
  for (const auto& b : backends)
    y += "      - { address: " + b + " }\n";
  y += "    health_check: { path: \"" + self.health_path +
       "\", interval: 100ms, timeout: 80ms, rise: 1, fall: 1 }\n";
  y += "routes:\n  - { path_prefix: /, pool: web }\ncluster:\n  node_id: " + self.id +
       "\n  gossip_interval: 100ms\n  vote_ttl: 600ms\n  peers:\n";
  for (const auto& r : all)
    if (r.id != self.id)
      y += "    - { id: " + r.id + ", address: 127.0.0.1:" + std::to_string(r.admin_port) + " }\n";
  y += extra;
  return y;
}

// The cluster verdict a replica shows for its first backend.
std::string verdict(std::uint16_t admin) {
  auto body = http_get(admin, "/status").body;
  auto pos = body.find("\"verdict\":\"");
  return pos == std::string::npos ? "" : body.substr(pos + 11, body.find('"', pos + 11) - pos - 11);
}

const header_list token = {{"Authorization", "Bearer t0k"}};

}  // namespace

TEST_CASE(
    "one replica's failing checks keep the verdict up everywhere - two flip it on all three") {
  backend_set backends(1);
  for (int failing : {1, 2}) {
    CAPTURE(failing);
    std::vector<replica_spec> rs{
        {"lb-1", unused_port()}, {"lb-2", unused_port()}, {"lb-3", unused_port()}};
    for (int i = 0; i < failing; ++i)
      rs[i].health_path = "/status/503";  // only their view fails
    std::vector<std::unique_ptr<proxy_fixture>> replicas;
    for (const auto& r : rs)
      replicas.push_back(
          std::make_unique<proxy_fixture>(replica_yaml(r, rs, {backends.address(0)})));
    if (failing == 1) {
      // lb-1's own checks say down, but it is outvoted: every replica keeps serving b1.
      REQUIRE(eventually([&] {
        return http_get(rs[0].admin_port, "/status").body.find("\"local_health\":\"down\"") !=
               std::string::npos;
      }));
      auto t = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - t < 600ms)  // several gossip rounds, observed
        for (const auto& r : rs)
          REQUIRE(verdict(r.admin_port) == "up");
      CHECK(http_get(replicas[0]->port(), "/").status == 200);
    } else {
      auto t0 = std::chrono::steady_clock::now();
      for (const auto& r : rs)
        CHECK(eventually([&] { return verdict(r.admin_port) == "down"; }));
      MESSAGE("verdict DOWN on all three replicas after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count()
              << " ms (gossip 100ms, checks 100ms)");
      // lb-3's own checks pass, yet it follows the quorum.
      CHECK(http_get(replicas[2]->port(), "/").status == 503);
    }
  }
}

TEST_CASE("a drain on one replica stops traffic to that backend on all of them") {
  backend_set backends(2);
  std::vector<replica_spec> rs{
      {"lb-1", unused_port()}, {"lb-2", unused_port()}, {"lb-3", unused_port()}};
  std::vector<std::unique_ptr<proxy_fixture>> replicas;
  for (const auto& r : rs)
    replicas.push_back(std::make_unique<proxy_fixture>(
        replica_yaml(r, rs, {backends.address(0), backends.address(1)})));
  auto target = "/pools/web/backends/" + backends.address(0) + "/drain";
  CHECK(http_request(rs[0].admin_port, "POST", target).status == 401);
  CHECK(http_request(rs[0].admin_port, "POST", target, token).status == 200);
  for (const auto& r : rs)
    CHECK(eventually(
        [&] {
          return http_get(r.admin_port, "/status").body.find("\"drained\":true") !=
                 std::string::npos;
        },
        1s));
  for (auto& p : replicas)
    for (int i = 0; i < 6; ++i)
      CHECK(http_get(p->port(), "/").header("X-Backend") == "b2");
  CHECK(http_request(rs[0].admin_port, "POST", "/pools/web/backends/10.9.9.9:1/drain", token)
            .status == 404);
  CHECK(http_request(rs[0].admin_port, "PUT",
                     "/pools/web/backends/" + backends.address(1) + "/weight", token,
                     "{\"weight\": -1}")
            .status == 400);
}

TEST_CASE("concurrent conflicting weight changes on two replicas converge to one value") {
  backend_set backends(1);
  std::vector<replica_spec> rs{
      {"lb-1", unused_port()}, {"lb-2", unused_port()}, {"lb-3", unused_port()}};
  std::vector<std::unique_ptr<proxy_fixture>> replicas;
  for (const auto& r : rs)
    replicas.push_back(std::make_unique<proxy_fixture>(replica_yaml(r, rs, {backends.address(0)})));
  auto path = "/pools/web/backends/" + backends.address(0) + "/weight";
  std::thread a([&] { http_request(rs[0].admin_port, "PUT", path, token, "{\"weight\": 7}"); });
  std::thread b([&] { http_request(rs[1].admin_port, "PUT", path, token, "{\"weight\": 9}"); });
  a.join();
  b.join();
  auto weight_of = [&](std::uint16_t admin) {
    std::smatch m;
    auto body = http_get(admin, "/status").body;
    std::regex re("\"weight\":([0-9]+)");
    return std::regex_search(body, m, re) ? std::stoi(m[1]) : -1;
  };
  CHECK(eventually([&] {
    int w0 = weight_of(rs[0].admin_port);
    return (w0 == 7 || w0 == 9) && weight_of(rs[1].admin_port) == w0 &&
           weight_of(rs[2].admin_port) == w0;
  }));
}

// The Bearer token plus the X-Tally-Signature a replica would send for `body` now.
header_list signed_by_peer(const std::string& body) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto headers = token;
  headers.push_back({std::string(tally::cluster::signature_header),
                     tally::cluster::sign_message("t0k", now, body)});
  return headers;
}

TEST_CASE("garbage and replayed vote messages are refused and change nothing") {
  backend_set backends(1);
  std::vector<replica_spec> rs{{"lb-1", unused_port()}, {"lb-2", unused_port()}};
  proxy_fixture one(replica_yaml(rs[0], rs, {backends.address(0)}));
  auto post = [&](const std::string& body) {
    return http_request(rs[0].admin_port, "POST", "/cluster/votes", signed_by_peer(body), body);
  };
  CHECK(http_request(rs[0].admin_port, "POST", "/cluster/votes", {}, "{}").status == 401);
  // The Bearer token alone is not enough: a peer message must be signed.
  CHECK(http_request(rs[0].admin_port, "POST", "/cluster/votes", token, "{}").status == 401);
  CHECK(post("not json").status == 400);
  CHECK(post("{\"node\": 5}").status == 400);
  CHECK(post(std::string(300000, '[')).status >= 400);
  std::string down_vote =
      "{\"node\":\"lb-2\",\"incarnation\":\"00000000000000aa\",\"seq\":5,\"hlc\":{\"ms\":1,\"c\":0,"
      "\"node\":\"lb-2\"},"
      "\"votes\":[{\"pool\":\"web\",\"backend\":\"" +
      backends.address(0) + "\",\"up\":false,\"since_ms\":1}],\"changes\":[]}";
  auto first = post(down_vote);
  auto replay = post(down_vote);
  CHECK(first.status == 200);
  CHECK((replay.status == 200 || replay.status == 409));  // ignored or refused, never counted twice
  // One down vote of two (the replica's own check says up): no quorum, still up.
  CHECK(verdict(rs[0].admin_port) == "up");
  CHECK(http_get(one.port(), "/").status == 200);
}

TEST_CASE("checkpoint: a drain survives kill -9 - a replica without a file takes a peer's table") {
  backend_set backends(2);
  temp_dir scratch;
  auto dir = scratch.path();
  std::vector<replica_spec> rs{{"lb-1", unused_port()}, {"lb-2", unused_port()}};
  auto cfg_a = (dir / "a.yaml").string();
  std::ofstream(cfg_a) << replica_yaml(
      rs[0], rs, {backends.address(0), backends.address(1)},
      "checkpoint: { path: " + (dir / "a.json").string() + ", interval: 1s }\n");
  auto drained_in = [](std::uint16_t admin) {
    return http_get(admin, "/status").body.find("\"drained\":true") != std::string::npos;
  };
  {
    child_process a({TALLY_BINARY, "serve", "-c", cfg_a});
    REQUIRE(a.wait_for_output("listening on"));
    REQUIRE(http_request(rs[0].admin_port, "POST",
                         "/pools/web/backends/" + backends.address(1) + "/drain", token)
                .status == 200);
    REQUIRE(eventually([&] {
      return fs::exists(dir / "a.json") && fs::file_size(dir / "a.json") > 0 &&
             std::ifstream(dir / "a.json").rdbuf() != nullptr && a.output().size() > 0;
    }));
    // The write is debounced; wait until the file holds the drain.
    REQUIRE(eventually([&] {
      std::ifstream f(dir / "a.json");
      std::string text((std::istreambuf_iterator<char>(f)), {});
      return text.find("\"drained\": true") != std::string::npos ||
             text.find("\"drained\":true") != std::string::npos;
    }));
    a.send_signal(SIGKILL);
    a.wait_exit();
  }
  child_process a({TALLY_BINARY, "serve", "-c", cfg_a});
  REQUIRE(a.wait_for_output("listening on"));
  CHECK(a.output().find("checkpoint: restored") != std::string::npos);
  CHECK(drained_in(rs[0].admin_port));

  // lb-2 has no file: it fetches lb-1's table before serving.
  auto cfg_b = (dir / "b.yaml").string();
  std::ofstream(cfg_b) << replica_yaml(
      rs[1], rs, {backends.address(0), backends.address(1)},
      "checkpoint: { path: " + (dir / "b.json").string() + ", interval: 1s }\n");
  child_process b({TALLY_BINARY, "serve", "-c", cfg_b});
  REQUIRE(b.wait_for_output("listening on"));
  CHECK(b.output().find("took the routing table of peer lb-1") != std::string::npos);
  CHECK(drained_in(rs[1].admin_port));
  a.send_signal(SIGTERM);
  b.send_signal(SIGTERM);
  CHECK(a.wait_exit() == 0);
  CHECK(b.wait_exit() == 0);
}
