// A pool whose backends come from a real etcd, end to end through the proxy.
#include <atomic>
#include <chrono>
#include <thread>

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include "discovery/etcd_fixture.hpp"
#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/proxy_fixture.hpp"

namespace tally::test {
namespace {

std::string discovered_pool_yaml(const etcd_server& etcd, const std::string& extra = "") {
  return "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nworkers: 2\n"
         "access_log: { enabled: false }\n" +
         extra + "pools:\n  web:\n    discovery: { etcd: { endpoints: [ \"" + etcd.url() +
         "\" ], prefix: /tally/web/ } }\n"
         "routes:\n  - { path_prefix: /, pool: web }\n";
}

std::string value_for(const backend_set& backends, std::size_t i) {
  return R"({"address": ")" + backends.address(i) + R"("})";
}

// Milliseconds from the put until a request reaches the backend named `name`.
double ms_until_served_by(http_connection& client, const std::string& name) {
  auto start = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return client.request("GET", "/").body == name + "\n"; }));
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

boost::json::value status_of(const proxy_fixture& proxy) {
  return boost::json::parse(http_get(proxy.admin_port(), "/status").body);
}

TEST_CASE(
    "a put makes a new backend take traffic and a delete takes it out with no failed request") {
  etcd_server etcd;
  backend_set backends(2);
  proxy_fixture proxy(discovered_pool_yaml(etcd));
  http_connection client(proxy.port());
  // No key yet: the pool is empty and says so.
  CHECK(client.request("GET", "/").status == 503);

  etcd.put("/tally/web/b1", value_for(backends, 0));
  auto first_ms = ms_until_served_by(client, "b1");
  etcd.put("/tally/web/b2", value_for(backends, 1));
  auto second_ms = ms_until_served_by(client, "b2");
  MESSAGE("etcd put to traffic on the new backend: " << first_ms << " ms (empty pool), "
                                                     << second_ms << " ms (second backend)");

  // Requests keep flowing while b2 is deleted: none fails, and b2 stops getting new ones.
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, sent{0};
  std::thread load([&] {
    http_connection c(proxy.port());
    while (!done) {
      auto r = c.request("GET", "/");
      ++sent;
      if (r.status != 200) ++failures;
    }
  });
  REQUIRE(eventually([&] { return sent > 20; }));
  etcd.del("/tally/web/b2");
  CHECK(eventually([&] {
    auto s = status_of(proxy);
    return s.at("pools").at("web").at("backends").as_array().size() == 1;
  }));
  const int after_delete = sent;
  REQUIRE(eventually([&] { return sent > after_delete + 20; }));
  done = true;
  load.join();
  CHECK(failures == 0);
  for (int i = 0; i < 10; ++i)
    CHECK(client.request("GET", "/").body == "b1\n");
}

TEST_CASE("/status and /metrics show where a pool's backends come from") {
  etcd_server etcd;
  backend_set backends(1);
  auto rev = etcd.put("/tally/web/b1", value_for(backends, 0));
  etcd.put("/tally/web/garbage", "not json");
  proxy_fixture proxy(discovered_pool_yaml(etcd));
  REQUIRE(eventually([&] { return http_get(proxy.port(), "/").status == 200; }));
  auto web = status_of(proxy).at("pools").at("web");
  CHECK(web.at("source").as_string() == "etcd");
  CHECK(web.at("discovery").at("revision").as_int64() >= rev);
  CHECK(web.at("discovery").at("last_update").as_int64() > 0);
  CHECK(web.at("backends").at(0).at("address").as_string() == backends.address(0));
  auto metrics = http_get(proxy.admin_port(), "/metrics").body;
  CHECK(
      metrics.find(R"(tally_discovery_updates_total{pool="web",result="success",source="etcd"})") !=
      std::string::npos);
  CHECK(
      metrics.find(R"(tally_discovery_updates_total{pool="web",result="failure",source="etcd"})") !=
      std::string::npos);
}

TEST_CASE(
    "etcd killed: traffic continues on the last known set, and changes flow again once it "
    "restarts") {
  etcd_server etcd;
  backend_set backends(2);
  etcd.put("/tally/web/b1", value_for(backends, 0));
  proxy_fixture proxy(discovered_pool_yaml(etcd));
  http_connection client(proxy.port());
  ms_until_served_by(client, "b1");
  etcd.kill();
  for (int i = 0; i < 20; ++i)
    CHECK(client.request("GET", "/").status == 200);
  etcd.start();
  etcd.put("/tally/web/b2", value_for(backends, 1));
  ms_until_served_by(client, "b2");
}

TEST_CASE("a drained discovered backend stays drained when other keys change") {
  etcd_server etcd;
  backend_set backends(2);
  etcd.put("/tally/web/b1", value_for(backends, 0));
  etcd.put("/tally/web/b2", value_for(backends, 1));
  proxy_fixture proxy(discovered_pool_yaml(etcd));
  http_connection client(proxy.port());
  ms_until_served_by(client, "b2");
  auto drained = http_request(proxy.admin_port(), "POST",
                              "/pools/web/backends/" + backends.address(1) + "/drain");
  REQUIRE(drained.status == 200);
  etcd.put("/tally/web/b1", R"({"address": ")" + backends.address(0) + R"(", "weight": 1})");
  auto rev = etcd.put("/tally/web/other", "garbage");
  CHECK(eventually([&] {
    auto s = status_of(proxy);
    return s.at("pools").at("web").at("discovery").at("revision").as_int64() >= rev;
  }));
  for (int i = 0; i < 10; ++i)
    CHECK(client.request("GET", "/").body == "b1\n");
}

}  // namespace
}  // namespace tally::test
