// The cluster and admin plane against a hostile or broken peer, over real sockets with the real
// binary: a silent peer at start-up, a rejected reload, token rotation across three replicas.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace tally::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string config(std::uint16_t listen, std::uint16_t admin, const std::string& backend,
                   const std::string& token, const std::string& extra = "") {
  return "listen: 127.0.0.1:" + std::to_string(listen) +
         "\nadmin: { listen: 127.0.0.1:" + std::to_string(admin) + ", token: " + token +
         " }\nworkers: 1\naccess_log: { enabled: false }\npools:\n  web:\n    backends:\n"
         "      - { address: " +
         backend + " }\nroutes:\n  - { path_prefix: /, pool: web }\n" + extra;
}

std::string cluster_section(const std::string& self,
                            const std::vector<std::pair<std::string, std::uint16_t>>& all) {
  std::string y =
      "cluster:\n  node_id: " + self + "\n  gossip_interval: 100ms\n  vote_ttl: 600ms\n  peers:\n";
  for (const auto& [id, port] : all)
    if (id != self)
      y += "    - { id: " + id + ", address: 127.0.0.1:" + std::to_string(port) + " }\n";
  return y;
}

// How many of a replica's peers it currently hears from.
std::size_t peers_up(std::uint16_t admin) {
  auto res = http_get(admin, "/status");
  if (res.status != 200) return 0;
  std::error_code ec;
  auto v = json::parse(res.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("peers")) return 0;
  std::size_t up = 0;
  for (const auto& p : v.at("peers").as_array())
    if (p.at("up").as_bool()) ++up;
  return up;
}

// True when the replica heard every peer within the last `ms` milliseconds.
bool heard_all_within(std::uint16_t admin, long long ms) {
  auto res = http_get(admin, "/status");
  if (res.status != 200) return false;
  std::error_code ec;
  auto v = json::parse(res.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("peers")) return false;
  for (const auto& p : v.at("peers").as_array()) {
    const auto& seen = p.at("last_seen_ms_ago");
    if (!seen.is_int64() || seen.as_int64() > ms) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("a rejected reload leaves the listener where it was") {
  backend_set backends(1);
  temp_dir dir;
  const auto port = unused_port(), admin = unused_port(), other = unused_port();
  const auto file = (dir.path() / "tally.yaml").string();
  std::ofstream(file) << config(port, admin, backends.address(0), "t0k");
  child_process tally({TALLY_BINARY, "serve", "-c", file});
  REQUIRE(tally.wait_for_output("listening on"));
  REQUIRE(http_get(port, "/").status == 200);

  // A new listen address and a backend that cannot be resolved: the reload must fail whole.
  std::ofstream(file) << config(other, admin, "no-such-host.invalid:80", "t0k");
  tally.send_signal(SIGHUP);
  REQUIRE(tally.wait_for_output("reload rejected"));
  CHECK(http_get(port, "/").status == 200);
  CHECK(http_get(other, "/").status == 0);  // never opened
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit() == 0);
}

TEST_CASE("a peer that accepts and never answers costs seconds at start-up - not a hang") {
  backend_set backends(1);
  temp_dir dir;
  // The kernel completes the handshake for a listening socket nobody accepts from: a peer that
  // takes the connection and then says nothing.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor silent(ioc, {boost::asio::ip::address_v4::loopback(), 0});
  const auto silent_port = silent.local_endpoint().port();
  const auto admin = unused_port();
  const auto file = (dir.path() / "tally.yaml").string();
  std::ofstream(file) << config(0, admin, backends.address(0), "t0k",
                                cluster_section("lb-1", {{"lb-1", admin}, {"lb-2", silent_port}}) +
                                    "checkpoint: { path: " + (dir.path() / "state.json").string() +
                                    ", interval: 1s }\n");
  child_process tally({TALLY_BINARY, "serve", "-c", file});
  CHECK(tally.wait_for_output("no peer answered", 20s));
  CHECK(tally.wait_for_output("listening on", 20s));
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit() == 0);
}

TEST_CASE("a peer that drips its answer a byte at a time costs seconds at start-up - not a hang") {
  backend_set backends(1);
  temp_dir dir;
  // A peer that answers the checkpoint request with a header one byte every 200 ms: a deadline
  // per read would never fire; the fetch's deadline covers the whole answer.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor dripping(ioc, {boost::asio::ip::address_v4::loopback(), 0});
  const auto drip_port = dripping.local_endpoint().port();
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    boost::system::error_code ec;
    auto s = dripping.accept(ec);
    if (ec) return;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nX-Filler: ";
    for (std::size_t i = 0; !stop && i < 1000; ++i) {
      char c = i < head.size() ? head[i] : 'x';
      if (boost::asio::write(s, boost::asio::buffer(&c, 1), ec) != 1) return;
      std::this_thread::sleep_for(200ms);  // the peer's pace, not synchronisation
    }
  });
  const auto admin = unused_port();
  const auto file = (dir.path() / "tally.yaml").string();
  std::ofstream(file) << config(0, admin, backends.address(0), "t0k",
                                cluster_section("lb-1", {{"lb-1", admin}, {"lb-2", drip_port}}) +
                                    "checkpoint: { path: " + (dir.path() / "state.json").string() +
                                    ", interval: 1s }\n");
  child_process tally({TALLY_BINARY, "serve", "-c", file});
  CHECK(tally.wait_for_output("no peer answered", 20s));
  CHECK(tally.wait_for_output("listening on", 20s));
  stop = true;
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit() == 0);
  peer.join();
}

TEST_CASE("token rotation across three replicas - they hear each other again after the reloads") {
  backend_set backends(1);
  temp_dir dir;
  std::vector<std::pair<std::string, std::uint16_t>> ids{
      {"lb-1", unused_port()}, {"lb-2", unused_port()}, {"lb-3", unused_port()}};
  std::vector<std::string> files;
  std::vector<std::unique_ptr<child_process>> replicas;
  auto write = [&](const std::string& token) {
    for (std::size_t i = 0; i < ids.size(); ++i)
      std::ofstream(files[i]) << config(0, ids[i].second, backends.address(0), token,
                                        cluster_section(ids[i].first, ids));
  };
  for (const auto& [id, port] : ids)
    files.push_back((dir.path() / (id + ".yaml")).string());
  write("old-token");
  for (const auto& f : files) {
    replicas.push_back(
        std::make_unique<child_process>(std::vector<std::string>{TALLY_BINARY, "serve", "-c", f}));
    REQUIRE(replicas.back()->wait_for_output("listening on"));
  }
  auto all_hear_all = [&] {
    for (const auto& [id, port] : ids)
      if (peers_up(port) != 2) return false;
    return true;
  };
  REQUIRE(eventually(all_hear_all));

  write("new-token");
  for (auto& r : replicas)
    r->send_signal(SIGHUP);
  for (auto& r : replicas)
    REQUIRE(r->wait_for_output("reloaded"));
  // From here every message in flight is signed with the new token: a replica has converged
  // when it heard each peer after this point.
  const auto reloaded = std::chrono::steady_clock::now();
  auto since = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 reloaded)
        .count();
  };
  REQUIRE(eventually([&] {
    const auto ms = since();
    for (const auto& [id, port] : ids)
      if (!heard_all_within(port, ms)) return false;
    return true;
  }));
  MESSAGE("every replica heard every peer again " << since() << " ms after the last reload");
  CHECK(all_hear_all());
  // The old token no longer opens the admin API.
  CHECK(http_request(ids[0].second, "POST", "/pools/web/backends/" + backends.address(0) + "/drain",
                     {{"Authorization", "Bearer old-token"}})
            .status == 401);
  for (auto& r : replicas)
    r->send_signal(SIGTERM);
  for (auto& r : replicas)
    CHECK(r->wait_exit() == 0);
}
