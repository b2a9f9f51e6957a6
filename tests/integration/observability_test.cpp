// Metrics a real Prometheus can scrape, reloads under load, the access log.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/proxy_fixture.hpp"
#include "support/spec_metrics.hpp"
#include "support/temp_dir.hpp"
#include "tally/config/load.hpp"
#include "tally/proxy/app.hpp"

using namespace tally::test;
namespace fs = std::filesystem;

namespace {}  // namespace

TEST_CASE("/metrics after traffic has every SPEC family and passes promtool check metrics") {
  backend_set backends(2);
  proxy_fixture proxy(
      proxy_yaml({{"web", "round_robin", {backends.address(0), backends.address(1)}}}));
  for (int i = 0; i < 10; ++i)
    REQUIRE(http_get(proxy.port(), "/").status == 200);
  auto scraped = http_get(proxy.admin_port(), "/metrics");
  REQUIRE(scraped.status == 200);
  for (std::string_view name : spec_metric_families) {
    CAPTURE(name);
    CHECK(scraped.body.find("# HELP " + std::string(name) + " ") != std::string::npos);
  }
  CHECK(scraped.body.find("tally_requests_total{code=\"200\",pool=\"web\"} 10") !=
        std::string::npos);
  CHECK(scraped.body.find("tally_request_duration_seconds_count{pool=\"web\"} 10") !=
        std::string::npos);

  temp_dir scratch;
  auto dir = scratch.path();
  auto file = dir / "metrics.txt";
  std::ofstream(file) << scraped.body;
  auto check = run_command({"sh", "-c", "promtool check metrics < " + file.string()});
  CHECK_MESSAGE(check.exit_code == 0, check.output);
  CHECK(check.output.empty());
}

TEST_CASE("a real Prometheus server scrapes tally and sees up == 1") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}));
  temp_dir scratch;
  auto dir = scratch.path();
  auto cfg = dir / "prometheus.yml";
  std::ofstream(cfg) << "global: { scrape_interval: 1s, scrape_timeout: 900ms }\n"
                        "scrape_configs:\n"
                        "  - job_name: tally\n"
                        "    static_configs: [ { targets: ['127.0.0.1:"
                     << proxy.admin_port() << "'] } ]\n";
  auto port = unused_port();
  child_process prom({"prometheus", "--config.file=" + cfg.string(),
                      "--storage.tsdb.path=" + (dir / "data").string(),
                      "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  REQUIRE_MESSAGE(
      prom.wait_for_output("Server is ready to receive web requests", std::chrono::seconds(30)),
      prom.output());
  // Each scrape adds a sample; poll the query API until the first one is in (bounded).
  bool up = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!up && std::chrono::steady_clock::now() < deadline) {
    auto r = http_get(port, "/api/v1/query?query=up%7Bjob%3D%22tally%22%7D");
    up = r.status == 200 && r.body.find("\"value\":[") != std::string::npos &&
         r.body.find("\"1\"]") != std::string::npos;
    if (!up) {
      auto synced = http_get(port, "/api/v1/query?query=scrape_samples_scraped");
      (void)synced;  // another round trip gives Prometheus time to scrape without sleeping
    }
  }
  CHECK(up);
  auto samples = http_get(port, "/api/v1/query?query=tally_downstream_connections");
  CHECK(samples.body.find("tally_downstream_connections") != std::string::npos);
  prom.send_signal(SIGTERM);
  prom.wait_exit(std::chrono::seconds(10));
}

TEST_CASE("20 reloads under a GET load fail no request - and an added backend gets traffic") {
  backend_set backends(2);
  temp_dir scratch;
  auto dir = scratch.path();
  auto path = (dir / "tally.yaml").string();
  auto one = proxy_yaml({{"web", "round_robin", {backends.address(0)}}});
  auto two = proxy_yaml({{"web", "round_robin", {backends.address(0), backends.address(1)}}});
  std::ofstream(path) << one;
  auto loaded = tally::config::load_config_file(path);
  REQUIRE(loaded.ok());
  tally::proxy::app app(loaded.value, {path, false});
  app.start();
  std::thread control([&] { app.run(); });

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&] {
      http_connection conn(app.proxy_port());
      while (!stop.load()) {
        auto r = conn.request("GET", "/");
        (r.status == 200 ? ok : failed)++;
      }
    });
  for (int i = 0; i < 20; ++i) {
    std::ofstream(path) << (i % 2 == 0 ? two : one);
    CHECK(app.reload() == "");
    int before = ok.load();
    while (ok.load() < before + 20 && failed.load() == 0)
      std::this_thread::yield();
  }
  std::ofstream(path) << two;
  CHECK(app.reload() == "");
  auto b2_before = backends.backend(1).stats().requests.load();
  int before = ok.load();
  while (ok.load() < before + 50 && failed.load() == 0)
    std::this_thread::yield();
  stop = true;
  for (auto& t : clients)
    t.join();
  MESSAGE("requests during reloads: " << ok.load() << " ok, " << failed.load() << " failed");
  CHECK(failed.load() == 0);
  CHECK(backends.backend(1).stats().requests.load() > b2_before);

  // An invalid file keeps the old config serving and reports FILE:LINE:COL.
  std::ofstream(path) << "pools: {\n";
  auto errors = app.reload();
  CHECK(errors.find(path + ":") != std::string::npos);
  CHECK(http_get(app.proxy_port(), "/").status == 200);
  auto reload_metric = http_get(app.admin_port(), "/metrics").body;
  CHECK(reload_metric.find("tally_config_reloads_total{result=\"failure\"} 1") !=
        std::string::npos);

  app.shutdown();
  control.join();
}

TEST_CASE("POST /reload returns the errors as JSON and needs the token when one is set") {
  backend_set backends(1);
  temp_dir scratch;
  auto dir = scratch.path();
  auto path = (dir / "tally.yaml").string();
  std::ofstream(path) << proxy_yaml({{"web", "round_robin", {backends.address(0)}}},
                                    "admin: { listen: 127.0.0.1:0, token: s3cret }\n");
  auto loaded = tally::config::load_config_file(path);
  REQUIRE(loaded.ok());
  tally::proxy::app app(loaded.value, {path, false});
  app.start();
  std::thread control([&] { app.run(); });

  CHECK(http_request(app.admin_port(), "POST", "/reload").status == 401);
  CHECK(http_request(app.admin_port(), "POST", "/reload", {{"Authorization", "Bearer wrong"}})
            .status == 401);
  auto ok = http_request(app.admin_port(), "POST", "/reload", {{"Authorization", "Bearer s3cret"}});
  CHECK(ok.status == 200);
  CHECK(ok.body.find("\"ok\":true") != std::string::npos);
  std::ofstream(path) << "listen: [\n";
  auto bad =
      http_request(app.admin_port(), "POST", "/reload", {{"Authorization", "Bearer s3cret"}});
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"errors\"") != std::string::npos);
  CHECK(http_get(app.admin_port(), "/status").status == 200);  // reads need no token

  app.shutdown();
  control.join();
}

TEST_CASE("a reload with a new listen address moves the listener; a kept-alive connection stays") {
  backend_set backends(1);
  temp_dir scratch;
  auto dir = scratch.path();
  auto path = (dir / "tally.yaml").string();
  auto first = proxy_yaml({{"web", "round_robin", {backends.address(0)}}});
  std::ofstream(path) << first;
  auto loaded = tally::config::load_config_file(path);
  REQUIRE(loaded.ok());
  tally::proxy::app app(loaded.value, {path, false});
  app.start();
  std::thread control([&] { app.run(); });
  auto old_port = app.proxy_port();
  http_connection kept(old_port);
  CHECK(kept.request("GET", "/").status == 200);

  auto new_port = unused_port();
  auto moved = first;
  moved.replace(moved.find("listen: 127.0.0.1:0"), 19,
                "listen: 127.0.0.1:" + std::to_string(new_port));
  std::ofstream(path) << moved;
  CHECK(app.reload() == "");
  CHECK(app.proxy_port() == new_port);
  CHECK(http_get(new_port, "/").status == 200);
  CHECK(http_get(old_port, "/", {}, std::chrono::seconds(2)).status == 0);  // nothing listens there
  CHECK(kept.request("GET", "/").status == 200);                            // established: kept

  app.shutdown();
  control.join();
}
