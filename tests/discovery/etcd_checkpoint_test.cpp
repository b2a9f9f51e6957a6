// Discovered backends in the checkpoint and across reloads, end to end: the tally binary, a real
// etcd and real backends. A replica restarted while etcd is down serves the set it last knew; a
// reload, with the discovery settings unchanged or changed, never empties a discovered pool.
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include "discovery/etcd_fixture.hpp"
#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/running_tally.hpp"
#include "tally/cluster/checkpoint_codec.hpp"

namespace tally::test {
namespace {

std::string etcd_pool_yaml(const std::string& endpoints, const std::string& extra = "") {
  return "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nworkers: 2\n"
         "access_log: { enabled: false }\n" +
         extra + "pools:\n  web:\n    discovery: { etcd: { endpoints: [ " + endpoints +
         " ], prefix: /tally/web/ } }\n"
         "routes:\n  - { path_prefix: /, pool: web }\n";
}

std::string quoted(const std::string& url) {
  return "\"" + url + "\"";
}

std::string value_for(const backend_set& backends, std::size_t i) {
  return R"({"address": ")" + backends.address(i) + R"(", "weight": 3})";
}

// The discovered set of pool "web" in the checkpoint at `path`, if the file is complete.
std::optional<cluster::checkpoint_discovery> discovered_in(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto decoded = cluster::decode_checkpoint(bytes);
  if (!decoded) return std::nullopt;
  for (const auto& pool : decoded.state->pools)
    if (pool.name == "web") return pool.discovery;
  return std::nullopt;
}

std::string body_of_get(std::uint16_t port) {
  return http_get(port, "/").body;
}

void stop(running_tally& t) {
  t.process().send_signal(SIGTERM);
  REQUIRE(t.process().wait_exit() == 0);
}

TEST_CASE("restarted while etcd is down, tally serves the discovered backends of its checkpoint") {
  etcd_server etcd;
  backend_set backends(2);
  temp_dir state_dir;
  const auto state = state_dir.path() / "state.json";
  const auto yaml =
      etcd_pool_yaml(quoted(etcd.url()), "checkpoint: { path: " + state.string() + " }\n");
  std::int64_t revision = 0;
  {
    running_tally t(yaml);
    REQUIRE_MESSAGE(t.started(), t.output());
    revision = etcd.put("/tally/web/b1", value_for(backends, 0));
    REQUIRE(eventually([&] { return body_of_get(t.proxy_port()) == "b1\n"; }));
    // The set reaches the checkpoint with its source, revision, address and weight.
    REQUIRE_MESSAGE(eventually([&] {
                      auto d = discovered_in(state);
                      return d && d->revision == revision && d->backends.size() == 1;
                    }),
                    t.output());
    auto d = *discovered_in(state);
    CHECK(d.source == "etcd");
    CHECK(d.backends[0].address == backends.address(0));
    CHECK(d.backends[0].weight == 3);
    stop(t);
  }
  // While no tally runs, etcd moves on to b2; then it goes away.
  etcd.del("/tally/web/b1");
  etcd.put("/tally/web/b2", value_for(backends, 1));
  etcd.kill();

  running_tally t(yaml);
  REQUIRE_MESSAGE(t.started(), t.output());
  // The restored set is in the first routing snapshot: the very first requests reach b1.
  for (int i = 0; i < 10; ++i)
    CHECK(body_of_get(t.proxy_port()) == "b1\n");
  auto status = boost::json::parse(http_get(t.admin_port(), "/status").body);
  auto web = status.at("pools").at("web");
  CHECK(web.at("source").as_string() == "etcd");
  CHECK(web.at("discovery").at("revision").as_int64() == revision);
  CHECK(web.at("backends").as_array().size() == 1);
  CHECK(t.output().find("restored the discovered backends of 1 pools") != std::string::npos);

  // Once etcd answers, its set replaces the restored one.
  etcd.start();
  CHECK_MESSAGE(eventually([&] { return body_of_get(t.proxy_port()) == "b2\n"; }), t.output());
  for (int i = 0; i < 10; ++i)
    CHECK(body_of_get(t.proxy_port()) == "b2\n");
  stop(t);
}

TEST_CASE(
    "a restored discovered host name that no longer resolves does not keep tally from starting") {
  backend_set backends(1);
  temp_dir state_dir;
  const auto state = state_dir.path() / "state.json";
  using namespace std::chrono;
  cluster::checkpoint_state saved;
  saved.node_id = "tally-a";
  saved.written_at_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  saved.pools.push_back(
      {"web", {}, cluster::checkpoint_discovery{"etcd", 5, {{"no-such-host.invalid:8000", 1}}}});
  state_dir.write("state.json", cluster::encode_checkpoint(saved));
  // No etcd answers: the pool serves its configured backend until one does.
  const auto dead = "\"http://127.0.0.1:" + std::to_string(unused_port()) + "\"";
  auto yaml = etcd_pool_yaml(dead, "checkpoint: { path: " + state.string() + " }\n");
  const auto discovery_line = yaml.find("    discovery:");
  yaml.insert(discovery_line, "    backends: [ { address: " + backends.address(0) + " } ]\n");
  running_tally t(yaml);
  REQUIRE_MESSAGE(t.started(), t.output());
  CHECK(t.output().find("not using the restored discovered backends") != std::string::npos);
  CHECK(body_of_get(t.proxy_port()) == "b1\n");
  stop(t);
}

TEST_CASE(
    "reloads with unchanged and changed discovery settings keep discovered backends serving") {
  etcd_server etcd;
  backend_set backends(2);
  etcd.put("/tally/web/b1", value_for(backends, 0));
  running_tally t(etcd_pool_yaml(quoted(etcd.url())));
  REQUIRE_MESSAGE(t.started(), t.output());
  REQUIRE(eventually([&] { return body_of_get(t.proxy_port()) == "b1\n"; }));

  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, sent{0};
  std::thread load([&] {
    http_connection c(t.proxy_port());
    while (!done) {
      auto r = c.request("GET", "/");
      ++sent;
      if (r.status != 200) ++failures;
    }
  });
  auto some_more = [&] {
    const int before = sent;
    return eventually([&] { return sent > before + 20; });
  };
  REQUIRE(some_more());

  // SIGHUP with the same file: the etcd source is kept, and so is its set.
  t.process().send_signal(SIGHUP);
  REQUIRE(t.process().wait_for_output("reloaded"));
  REQUIRE(some_more());

  // POST /reload with other endpoints (an unreachable one first): the new source starts, the
  // pool keeps its set until it answers, then it follows the new source.
  const auto dead = "\"http://127.0.0.1:" + std::to_string(unused_port()) + "\"";
  t.rewrite_config(etcd_pool_yaml(dead + ", " + quoted(etcd.url())));
  auto reload = http_request(t.admin_port(), "POST", "/reload");
  REQUIRE_MESSAGE(reload.status == 200, reload.body);
  REQUIRE(some_more());
  etcd.put("/tally/web/b2", value_for(backends, 1));
  CHECK_MESSAGE(eventually([&] {
                  auto s = boost::json::parse(http_get(t.admin_port(), "/status").body);
                  return s.at("pools").at("web").at("backends").as_array().size() == 2;
                }),
                t.output());
  REQUIRE(some_more());
  done = true;
  load.join();
  CHECK(failures == 0);
  CHECK(sent > 60);
  stop(t);
}

}  // namespace
}  // namespace tally::test
