#include <doctest/doctest.h>

#include "support/spec_metrics.hpp"

#include <sys/wait.h>

#include <unistd.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tally/proxy/metrics.hpp"

using namespace tally::proxy;

namespace {

// The value of the sample whose line starts with `series ` (name plus label set, as serialized),
// or NaN when there is no such line.
double sample(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nan("");
}

bool has_line_starting(const std::string& scrape, const std::string& prefix) {
  return scrape.starts_with(prefix) || scrape.find("\n" + prefix) != std::string::npos;
}

struct command_result {
  int status;
  std::string output;
};

command_result run(const std::string& command) {
  command_result r{-1, {}};
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
    r.output.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<pool_binding> two_pools() {
  return {{"web", {"127.0.0.1:9001", "127.0.0.1:9002"}}, {"api", {"10.0.0.7:8080"}}};
}

}  // namespace

TEST_CASE("metrics: scrape has every SPEC family with HELP and TYPE - even before traffic") {
  metrics m;
  const std::string text = m.scrape();
  for (std::string_view family : tally::test::spec_metric_families) {
    std::string name(family);
    INFO(name);
    CHECK(has_line_starting(text, "# HELP " + name + " "));
    CHECK(has_line_starting(text, "# TYPE " + name + " "));
  }
  CHECK(has_line_starting(text, "# TYPE tally_request_duration_seconds histogram"));
  CHECK(has_line_starting(text, "# TYPE tally_requests_total counter"));
  CHECK(has_line_starting(text, "# TYPE tally_backend_up gauge"));
  CHECK(sample(text, "tally_checkpoint_last_success_timestamp_seconds") == 0);
  CHECK(sample(text, "tally_downstream_connections") == 0);
}

TEST_CASE("metrics: counts land on the right labels") {
  metrics m;
  m.bind_peers({"lb-2", "lb-3"});
  auto b = m.bind(two_pools());
  REQUIRE(b->pool_count() == 2);
  REQUIRE(b->backend_count(0) == 2);
  CHECK(b->pool(0).name() == "web");

  b->pool(0).count_response(200, 0.0004);
  b->pool(0).count_response(200, 0.003);
  b->pool(0).count_response(503, 20.0);
  b->pool(0).count_response(418, 0.01);  // not precreated: rare path
  b->pool(1).count_response(404, 0.002);
  b->backend(0, 1).upstream(upstream_outcome::connect_failure);
  b->backend(0, 0).upstream(upstream_outcome::success);
  b->backend(0, 0).upstream(upstream_outcome::success);
  b->backend(1, 0).health_check(false);
  b->pool(0).retry(retry_reason::connect_failure);
  b->pool(0).retry(retry_reason::status_503);
  m.count_config_reload(true);
  m.count_config_reload(false);
  m.count_config_reload(false);
  m.count_checkpoint_write(true);
  m.count_checkpoint_restore(false);
  m.set_downstream_connections(7);
  m.set_peer_up("lb-2", true);
  m.set_backend_state("web", "127.0.0.1:9002",
                      {.up = false,
                       .local_up = true,
                       .votes_down = 2,
                       .active_requests = 5,
                       .drained = true,
                       .weight = 4,
                       .queued_requests = 3});

  const std::string t = m.scrape();
  CHECK(sample(t, R"(tally_requests_total{code="200",pool="web"})") == 2);
  CHECK(sample(t, R"(tally_requests_total{code="503",pool="web"})") == 1);
  CHECK(sample(t, R"(tally_requests_total{code="418",pool="web"})") == 1);
  CHECK(sample(t, R"(tally_requests_total{code="404",pool="api"})") == 1);
  CHECK(sample(t, R"(tally_requests_total{code="200",pool="api"})") == 0);
  CHECK(
      sample(
          t,
          R"(tally_upstream_requests_total{backend="127.0.0.1:9002",outcome="connect_failure",pool="web"})") ==
      1);
  CHECK(
      sample(
          t,
          R"(tally_upstream_requests_total{backend="127.0.0.1:9001",outcome="success",pool="web"})") ==
      2);
  CHECK(
      sample(
          t,
          R"(tally_upstream_requests_total{backend="10.0.0.7:8080",outcome="timeout",pool="api"})") ==
      0);
  CHECK(
      sample(t,
             R"(tally_health_checks_total{backend="10.0.0.7:8080",pool="api",result="failure"})") ==
      1);
  CHECK(sample(t, R"(tally_retries_total{pool="web",reason="connect_failure"})") == 1);
  CHECK(sample(t, R"(tally_retries_total{pool="web",reason="503"})") == 1);
  CHECK(sample(t, R"(tally_retries_total{pool="api",reason="504"})") == 0);
  CHECK(sample(t, R"(tally_config_reloads_total{result="success"})") == 1);
  CHECK(sample(t, R"(tally_config_reloads_total{result="failure"})") == 2);
  CHECK(sample(t, R"(tally_checkpoint_writes_total{result="success"})") == 1);
  CHECK(sample(t, R"(tally_checkpoint_restores_total{result="failure"})") == 1);
  CHECK(sample(t, "tally_checkpoint_last_success_timestamp_seconds") > 1.6e9);
  CHECK(sample(t, "tally_downstream_connections") == 7);
  CHECK(sample(t, R"(tally_cluster_peer_up{peer="lb-2"})") == 1);
  CHECK(sample(t, R"(tally_cluster_peer_up{peer="lb-3"})") == 0);
  // Backends start up until the refresher says otherwise.
  CHECK(sample(t, R"(tally_backend_up{backend="127.0.0.1:9001",pool="web"})") == 1);
  CHECK(sample(t, R"(tally_backend_up{backend="127.0.0.1:9002",pool="web"})") == 0);
  CHECK(sample(t, R"(tally_backend_local_up{backend="127.0.0.1:9002",pool="web"})") == 1);
  CHECK(sample(t, R"(tally_backend_votes_down{backend="127.0.0.1:9002",pool="web"})") == 2);
  CHECK(sample(t, R"(tally_backend_active_requests{backend="127.0.0.1:9002",pool="web"})") == 5);
  CHECK(sample(t, R"(tally_backend_queue_length{backend="127.0.0.1:9002",pool="web"})") == 3);
  CHECK(sample(t, R"(tally_backend_queue_length{backend="127.0.0.1:9001",pool="web"})") == 0);
  CHECK(sample(t, R"(tally_backend_drained{backend="127.0.0.1:9002",pool="web"})") == 1);
  CHECK(sample(t, R"(tally_backend_weight{backend="127.0.0.1:9002",pool="web"})") == 4);
  CHECK(sample(t, R"(tally_backend_ejected{backend="127.0.0.1:9002",pool="web"})") == 0);
}

TEST_CASE("metrics: duration histogram has the proxy buckets - cumulative - with +Inf") {
  metrics m;
  auto b = m.bind(two_pools());
  b->pool(0).count_response(200, 0.0004);  // <= 0.0005
  b->pool(0).count_response(200, 0.0005);  // le is inclusive
  b->pool(0).count_response(200, 0.003);   // <= 0.005
  b->pool(0).count_response(200, 20.0);    // +Inf only
  const std::string t = m.scrape();
  const std::string p = R"(tally_request_duration_seconds_bucket{pool="web",le=")";
  CHECK(sample(t, p + R"(0.0005"})") == 2);
  CHECK(sample(t, p + R"(0.0025"})") == 2);
  CHECK(sample(t, p + R"(0.005"})") == 3);
  CHECK(sample(t, p + R"(10"})") == 3);
  CHECK(sample(t, p + R"(+Inf"})") == 4);
  for (const char* le : {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                         "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
    INFO(le);
    CHECK(!std::isnan(sample(t, p + le + "\"}")));
  }
  CHECK(sample(t, R"(tally_request_duration_seconds_count{pool="web"})") == 4);
  CHECK(sample(t, R"(tally_request_duration_seconds_sum{pool="web"})") ==
        doctest::Approx(20.0039).epsilon(1e-9));
  CHECK(sample(t, R"(tally_request_duration_seconds_count{pool="api"})") == 0);
}

TEST_CASE("metrics: promtool check metrics passes with no lint output") {
  const auto which = run("command -v promtool");
  if (which.status != 0 || which.output.empty()) {
    FAIL("promtool not found: run scripts/install-deps.sh test (Debian package prometheus)");
  }
  metrics m;
  m.bind_peers({"lb-2"});
  auto b = m.bind(two_pools());
  b->pool(0).count_response(200, 0.01);
  b->pool(0).count_response(599, 0.01);
  b->pool(1).retry(retry_reason::timeout);
  b->backend(0, 0).upstream(upstream_outcome::http_5xx);
  m.count_checkpoint_write(true);

  for (int variant = 0; variant < 2; ++variant) {
    // Variant 1: no peers, so tally_cluster_peer_up has HELP/TYPE and no samples.
    if (variant == 1) m.bind_peers({});
    const auto path =
        std::filesystem::temp_directory_path() /
        ("tally-metrics-" + std::to_string(::getpid()) + "-" + std::to_string(variant) + ".prom");
    {
      std::ofstream out(path);
      out << m.scrape();
    }
    const auto r = run("promtool check metrics < '" + path.string() + "' 2>&1");
    std::filesystem::remove(path);
    INFO("promtool said: " << r.output);
    CHECK(r.status == 0);
    CHECK(r.output.empty());
  }
}

TEST_CASE("metrics: concurrent counting from 4 threads sums exactly") {
  metrics m;
  auto b = m.bind(two_pools());
  constexpr int per_thread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      pool_metrics& pm = b->pool(0);
      backend_metrics& bm = b->backend(0, t % 2);
      for (int i = 0; i < per_thread; ++i) {
        pm.count_response(i % 2 ? 200 : 418, 0.001);
        bm.upstream(upstream_outcome::success);
        pm.retry(retry_reason::reset);
      }
    });
  }
  // Scrapes racing the counters must be harmless.
  for (int i = 0; i < 20; ++i)
    (void)m.scrape();
  for (auto& th : threads)
    th.join();

  const std::string t = m.scrape();
  CHECK(sample(t, R"(tally_requests_total{code="200",pool="web"})") == 2 * per_thread);
  CHECK(sample(t, R"(tally_requests_total{code="418",pool="web"})") == 2 * per_thread);
  CHECK(sample(t, R"(tally_request_duration_seconds_count{pool="web"})") == 4 * per_thread);
  CHECK(sample(t, R"(tally_request_duration_seconds_sum{pool="web"})") ==
        doctest::Approx(4 * per_thread * 0.001));
  CHECK(sample(t, R"(tally_retries_total{pool="web",reason="reset"})") == 4 * per_thread);
  CHECK(
      sample(
          t,
          R"(tally_upstream_requests_total{backend="127.0.0.1:9001",outcome="success",pool="web"})") ==
      2 * per_thread);
  CHECK(
      sample(
          t,
          R"(tally_upstream_requests_total{backend="127.0.0.1:9002",outcome="success",pool="web"})") ==
      2 * per_thread);
}

TEST_CASE("metrics: rebinding keeps handles stable - keeps counters - drops removed state gauges") {
  metrics m;
  auto first = m.bind(two_pools());
  pool_metrics* web = &first->pool(0);
  backend_metrics* removed = &first->backend(0, 1);

  auto second = m.bind({{"web", {"127.0.0.1:9001", "127.0.0.1:9003"}}});
  CHECK(&second->pool(0) == web);
  CHECK(&second->backend(0, 0) == &first->backend(0, 0));
  CHECK(&m.backend("web", "127.0.0.1:9001") == &first->backend(0, 0));
  CHECK(&m.pool("web") == web);

  // A request still on the old snapshot keeps counting safely.
  removed->upstream(upstream_outcome::reset);
  first->pool(1).count_response(200, 0.1);
  m.set_backend_state("web", "127.0.0.1:9002", {false, false, 3, 1});  // no longer bound: ignored
  m.set_backend_state("web", "127.0.0.1:9003", {true, false, 1, 4});

  const std::string t = m.scrape();
  CHECK(
      sample(
          t,
          R"(tally_upstream_requests_total{backend="127.0.0.1:9002",outcome="reset",pool="web"})") ==
      1);
  CHECK(sample(t, R"(tally_requests_total{code="200",pool="api"})") == 1);
  CHECK(std::isnan(sample(t, R"(tally_backend_up{backend="127.0.0.1:9002",pool="web"})")));
  CHECK(std::isnan(sample(t, R"(tally_backend_up{backend="10.0.0.7:8080",pool="api"})")));
  CHECK(sample(t, R"(tally_backend_up{backend="127.0.0.1:9001",pool="web"})") == 1);
  CHECK(sample(t, R"(tally_backend_local_up{backend="127.0.0.1:9003",pool="web"})") == 0);
  CHECK(sample(t, R"(tally_backend_active_requests{backend="127.0.0.1:9003",pool="web"})") == 4);

  // Binding the same lists again changes nothing.
  auto third = m.bind({{"web", {"127.0.0.1:9001", "127.0.0.1:9003"}}});
  CHECK(&third->backend(0, 1) == &second->backend(0, 1));
  CHECK(sample(m.scrape(),
               R"(tally_backend_active_requests{backend="127.0.0.1:9003",pool="web"})") == 4);
}

TEST_CASE("metrics: the refresher runs at the start of every scrape") {
  metrics m;
  m.bind(two_pools());
  m.bind_peers({"lb-2"});
  int calls = 0;
  m.set_refresher([&](metrics& self) {
    ++calls;
    self.set_downstream_connections(calls * 10);
    self.set_peer_up("lb-2", calls % 2 == 1);
    self.set_backend_state("api", "10.0.0.7:8080", {calls % 2 == 0, true, 0, calls});
  });
  std::string t = m.scrape();
  CHECK(calls == 1);
  CHECK(sample(t, "tally_downstream_connections") == 10);
  CHECK(sample(t, R"(tally_cluster_peer_up{peer="lb-2"})") == 1);
  CHECK(sample(t, R"(tally_backend_up{backend="10.0.0.7:8080",pool="api"})") == 0);
  t = m.scrape();
  CHECK(calls == 2);
  CHECK(sample(t, "tally_downstream_connections") == 20);
  CHECK(sample(t, R"(tally_cluster_peer_up{peer="lb-2"})") == 0);
  CHECK(sample(t, R"(tally_backend_active_requests{backend="10.0.0.7:8080",pool="api"})") == 2);
}

TEST_CASE("metrics: label words for outcomes and retry reasons") {
  CHECK(to_string(upstream_outcome::success) == "success");
  CHECK(to_string(upstream_outcome::http_5xx) == "http_5xx");
  CHECK(to_string(upstream_outcome::connect_failure) == "connect_failure");
  CHECK(to_string(upstream_outcome::aborted) == "aborted");
  CHECK(to_string(retry_reason::connect_failure) == "connect_failure");
  CHECK(to_string(retry_reason::status_502) == "502");
  CHECK(to_string(retry_reason::status_504) == "504");
}

TEST_CASE("metrics: per-request recording cost (informational)") {
  // What one proxied request pays: a response count + histogram observation and one upstream
  // outcome, from 2 threads on the same pool (the contended case).
  metrics m;
  auto b = m.bind(two_pools());
  constexpr int per_thread = 500000;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      pool_metrics& pm = b->pool(0);
      backend_metrics& bm = b->backend(0, t);
      for (int i = 0; i < per_thread; ++i) {
        bm.upstream(upstream_outcome::success);
        pm.count_response(200, 0.002);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  MESSAGE("metrics per request: " << ns / double(per_thread) << " ns wall per request per thread");
  CHECK(sample(m.scrape(), R"(tally_request_duration_seconds_count{pool="web"})") ==
        2 * per_thread);
}
