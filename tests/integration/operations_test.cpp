// What an operator does to a running tally (docs/operations.md): rotate the access log with
// SIGUSR1, stop with a shutdown delay or a second signal, read a JSON operational log, scrape the
// process and build metrics.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <boost/json/parse.hpp>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/running_tally.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace tally::test;
namespace fs = std::filesystem;

namespace {

std::string config_with(const std::string& backend, const std::string& extra) {
  return "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nworkers: 1\n" + extra +
         "pools:\n  web:\n    backends:\n      - { address: " + backend +
         " }\nroutes:\n  - { path_prefix: /, pool: web }\n";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The value of the first sample line starting with `series` ("name{labels}"), or -1.
double sample(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("SIGUSR1 reopens the access log file after logrotate renamed it") {
  backend_set backends(1);
  temp_dir logs;
  const fs::path log = logs.path() / "access.log";
  running_tally t(config_with(backends.address(0), "access_log: { path: " + log.string() + " }\n"));
  REQUIRE(t.started());
  auto& tally = t.process();
  const auto port = t.proxy_port();
  REQUIRE(http_get(port, "/first").status == 200);
  REQUIRE(eventually([&] { return lines_in(read_file(log)) == 1; }));

  const fs::path rotated = logs.path() / "access.log.1";
  fs::rename(log, rotated);
  tally.send_signal(SIGUSR1);
  REQUIRE(tally.wait_for_output("reopened"));
  REQUIRE(http_get(port, "/second").status == 200);
  REQUIRE(eventually([&] { return fs::exists(log) && lines_in(read_file(log)) == 1; }));
  CHECK(read_file(log).find("/second") != std::string::npos);
  CHECK(read_file(rotated).find("/first") != std::string::npos);
  CHECK(lines_in(read_file(rotated)) == 1);

  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit(std::chrono::seconds(20)) == 0);
}

TEST_CASE("timeouts.shutdown_delay: after SIGTERM /readyz says 503 while requests are served") {
  backend_set backends(1);
  running_tally t(config_with(backends.address(0),
                              "access_log: { enabled: false }\n"
                              "timeouts: { shutdown_delay: 30s }\n"));
  REQUIRE(t.started());
  auto& tally = t.process();
  const auto port = t.proxy_port();
  const auto admin = t.admin_port();
  REQUIRE(http_get(admin, "/readyz").status == 200);

  tally.send_signal(SIGTERM);
  REQUIRE(tally.wait_for_output("shutdown_delay"));
  CHECK(http_get(admin, "/readyz").status == 503);
  // New connections are still accepted and served during the delay.
  auto served = http_get(port, "/during-delay");
  CHECK(served.status == 200);
  CHECK(served.header("X-Backend") == "b1");

  // The delay (30 s) is cut short by a second signal.
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_for_output("second SIGTERM"));
  CHECK(tally.wait_exit(std::chrono::seconds(10)) == 0);
}

TEST_CASE("a second SIGTERM during the drain exits at once") {
  backend_set backends(1);
  running_tally t(config_with(backends.address(0),
                              "access_log: { enabled: false }\n"
                              "timeouts: { drain: 60s }\n"));
  REQUIRE(t.started());
  auto& tally = t.process();
  const auto port = t.proxy_port();
  // A request that would keep the drain waiting for 30 s.
  child_process curl(
      {"curl", "-sS", "-m", "40", "http://127.0.0.1:" + std::to_string(port) + "/delay/30000"});
  REQUIRE(eventually([&] { return backends.backend(0).stats().requests.load() == 1; }));
  tally.send_signal(SIGTERM);
  REQUIRE(tally.wait_for_output("draining"));
  tally.send_signal(SIGTERM);
  // Far less than the 30 s the request in flight would have held the drain.
  CHECK(tally.wait_exit(std::chrono::seconds(10)) == 0);
  CHECK(tally.output().find("exiting now") != std::string::npos);
  CHECK(curl.wait_exit(std::chrono::seconds(10)).has_value());
}

TEST_CASE("log.format json: every operational line is one JSON object") {
  backend_set backends(1);
  running_tally t(config_with(backends.address(0),
                              "access_log: { enabled: false }\n"
                              "log: { level: debug, format: json }\n"));
  REQUIRE(t.started());
  auto& tally = t.process();
  tally.send_signal(SIGTERM);
  REQUIRE(tally.wait_exit(std::chrono::seconds(20)) == 0);
  std::istringstream lines(tally.output());
  std::string line;
  int parsed = 0;
  while (std::getline(lines, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    REQUIRE_MESSAGE(!ec, "not JSON: " << line);
    REQUIRE(v.is_object());
    CHECK(v.as_object().contains("time"));
    CHECK(v.as_object().contains("level"));
    CHECK(v.as_object().contains("message"));
    ++parsed;
  }
  CHECK(parsed >= 2);  // listening on ..., tally stopped
}

TEST_CASE("log.level changes on reload: at error, info lines are not written") {
  backend_set backends(1);
  running_tally t(config_with(backends.address(0), "access_log: { enabled: false }\n"));
  REQUIRE(t.started());
  auto& tally = t.process();
  const auto admin = t.admin_port();
  t.rewrite_config(config_with(backends.address(0),
                               "access_log: { enabled: false }\n"
                               "log: { level: error }\n"));
  tally.send_signal(SIGHUP);
  // "reloaded" is an info line, written after the new level applies: the metric says when.
  REQUIRE(eventually([&] {
    return http_get(admin, "/metrics")
               .body.find("tally_config_reloads_total{result=\"success\"} 1") != std::string::npos;
  }));
  t.rewrite_config("pools: [\n");
  tally.send_signal(SIGHUP);
  REQUIRE(tally.wait_for_output("reload rejected"));  // error lines still are
  CHECK(tally.output().find("reloaded") == std::string::npos);
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit(std::chrono::seconds(20)) == 0);
  CHECK(tally.output().find("tally stopped") == std::string::npos);
}

TEST_CASE("/metrics: build info, process families, bytes and per-backend upstream latency") {
  backend_set backends(1);
  running_tally t(config_with(backends.address(0), "access_log: { enabled: false }\n"));
  REQUIRE(t.started());
  auto& tally = t.process();
  const auto port = t.proxy_port();
  const auto admin = t.admin_port();
  REQUIRE(http_request(port, "POST", "/sink", {}, std::string(1000, 'x')).status == 200);
  // The session counts a request just after its last byte went out: wait for that.
  std::string scrape;
  REQUIRE(eventually([&] {
    scrape = http_get(admin, "/metrics").body;
    return sample(scrape, "tally_downstream_bytes_total{direction=\"in\"}") > 0;
  }));
  CHECK(scrape.find("tally_build_info{commit=\"") != std::string::npos);
  CHECK(sample(scrape, "process_open_fds") > 3);
  CHECK(sample(scrape, "process_max_fds") > 0);
  CHECK(sample(scrape, "process_resident_memory_bytes") > 1e6);
  CHECK(sample(scrape, "process_start_time_seconds") > 1.7e9);
  CHECK(sample(scrape, "tally_downstream_bytes_total{direction=\"in\"}") == 1000);
  CHECK(sample(scrape, "tally_downstream_bytes_total{direction=\"out\"}") > 0);
  const std::string labels = "{backend=\"" + backends.address(0) + "\",pool=\"web\"}";
  CHECK(sample(scrape, "tally_upstream_duration_seconds_count" + labels) == 1);
  CHECK(sample(scrape, "tally_backend_weight" + labels) == 1);
  CHECK(sample(scrape, "tally_backend_drained" + labels) == 0);
  CHECK(sample(scrape, "tally_config_last_reload_success_timestamp_seconds") > 1.7e9);
  CHECK(sample(scrape, "tally_access_log_dropped_total") == 0);
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit(std::chrono::seconds(20)) == 0);
}

TEST_CASE("the access log says how each request ended") {
  backend_set backends(1);
  temp_dir logs;
  const fs::path log = logs.path() / "access.log";
  // /api goes to a pool whose only backend refuses connections (port 1 on loopback).
  running_tally t(
      "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nworkers: 1\n"
      "access_log: { path: " +
      log.string() +
      " }\n"
      "pools:\n  web:\n    backends:\n      - { address: " +
      backends.address(0) +
      " }\n  dead:\n    retry: { attempts: 0 }\n    backends:\n"
      "      - { address: 127.0.0.1:1 }\n"
      "routes:\n  - { path_prefix: /api, pool: dead }\n"
      "  - { host: www.example, pool: web }\n");
  REQUIRE(t.started());
  const auto port = t.proxy_port();
  CHECK(http_get(port, "/ok", {{"Host", "www.example"}}).status == 200);
  CHECK(http_get(port, "/nowhere", {{"Host", "other.example"}}).status == 404);
  CHECK(http_get(port, "/api/x").status == 502);
  REQUIRE(eventually([&] { return lines_in(read_file(log)) == 3; }));
  std::istringstream lines(read_file(log));
  std::map<std::string, boost::json::object> by_target;
  for (std::string line; std::getline(lines, line);) {
    auto o = boost::json::parse(line).as_object();
    by_target[std::string(o.at("target").as_string())] = o;
  }
  REQUIRE(by_target.size() == 3);
  CHECK(by_target["/ok"].at("termination").as_string() == "ok");
  CHECK(by_target["/ok"].at("host").as_string() == "www.example");
  CHECK(by_target["/ok"].at("upstream_ms").is_double());
  CHECK(by_target["/nowhere"].at("termination").as_string() == "no_route");
  CHECK(by_target["/nowhere"].at("upstream_ms").is_null());
  CHECK(by_target["/api/x"].at("termination").as_string() == "connect_failure");
  CHECK(by_target["/api/x"].at("backend").as_string() == "127.0.0.1:1");
}
