// Restoring discovered sets from a checkpoint into the discovery sources, before any source runs.
#include <doctest/doctest.h>

#include "app/checkpoint_glue.hpp"
#include "tally/config/load.hpp"

namespace tally::proxy {
namespace {

std::shared_ptr<const config::config> config_of(const std::string& pools) {
  auto loaded =
      config::load_config_string("listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\npools:\n" +
                                     pools + "routes:\n  - { path_prefix: /, pool: web }\n",
                                 "test.yaml");
  REQUIRE_MESSAGE(loaded.ok(), (loaded.errors.empty() ? "" : loaded.errors[0].to_string()));
  return loaded.value;
}

cluster::checkpoint_state saved_state() {
  cluster::checkpoint_state s;
  s.node_id = "a";
  s.written_at_ms = 1764134100123;
  s.pools.push_back({"web", {}, cluster::checkpoint_discovery{"etcd", 42, {{"10.0.0.5:8000", 2}}}});
  s.pools.push_back({"api", {}, cluster::checkpoint_discovery{"etcd", 7, {{"10.0.0.6:8000", 1}}}});
  s.pools.push_back({"img", {}, cluster::checkpoint_discovery{"etcd", 9, {{"10.0.0.7:8000", 1}}}});
  return s;
}

TEST_CASE("restore_discovered: only pools whose source is still of the same kind get their set") {
  // web: still etcd; api: now DNS; img: now static backends.
  auto cfg = config_of(
      "  web:\n    discovery: { etcd: { endpoints: [ \"http://127.0.0.1:1\" ], prefix: /w/ } }\n"
      "  api:\n    backends: [ { address: 127.0.0.1:9001 } ]\n    discovery: { dns: { refresh: 5s "
      "} }\n"
      "  img:\n    backends: [ { address: 127.0.0.1:9002 } ]\n");
  boost::asio::io_context control;
  metrics registry;
  discovery_sources sources(control, registry, [] {});
  CHECK(restore_discovered(saved_state(), *cfg, sources) == 1);

  auto sets = sources.sets();
  REQUIRE(sets.size() == 1);
  const auto& web = sets.at("web");
  CHECK(web.source == "etcd");
  CHECK(web.revision == 42);
  CHECK(web.last_update_ms == 1764134100123);
  REQUIRE(web.backends.size() == 1);
  CHECK(web.backends[0].address.text == "10.0.0.5:8000");
  CHECK(web.backends[0].address.port == 8000);
  CHECK(web.backends[0].weight == 2);

  // The first snapshot's config: web has the restored backend, the others what the file says.
  auto overlaid = sources.overlay(cfg);
  for (const auto& pool : overlaid->pools) {
    REQUIRE(pool.backends.size() == 1);
    if (pool.name == "web") CHECK(pool.backends[0].address.text == "10.0.0.5:8000");
    if (pool.name == "api") CHECK(pool.backends[0].address.text == "127.0.0.1:9001");
    if (pool.name == "img") CHECK(pool.backends[0].address.text == "127.0.0.1:9002");
  }
}

TEST_CASE("restore_discovered: a file without discovered sets restores none") {
  auto cfg = config_of(
      "  web:\n    discovery: { etcd: { endpoints: [ \"http://127.0.0.1:1\" ], prefix: /w/ } }\n");
  auto saved = saved_state();
  for (auto& pool : saved.pools)
    pool.discovery.reset();
  boost::asio::io_context control;
  metrics registry;
  discovery_sources sources(control, registry, [] {});
  CHECK(restore_discovered(saved, *cfg, sources) == 0);
  CHECK(sources.sets().empty());
}

}  // namespace
}  // namespace tally::proxy
