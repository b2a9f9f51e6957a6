// Backends failing under a real tally: active checks, 503, retries, killed backends, hashing.
#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/proxy_fixture.hpp"
#include "support/wait.hpp"

using namespace tally::test;
using namespace std::chrono_literals;

namespace {

const std::string fast_checks =
    "    health_check: { path: /healthz, interval: 100ms, timeout: 80ms, rise: 2, fall: 2 }\n";

// Polls until `pred` holds or `limit` passes; each poll is a real request, not a sleep.

}  // namespace

TEST_CASE(
    "a failing /healthz takes a backend out after about fall x interval and back after rise x "
    "interval") {
  backend_set backends(2);
  proxy_fixture proxy(proxy_yaml(
      {{"web", "round_robin", {backends.address(0), backends.address(1)}, {}, fast_checks}}));
  backends.backend(0).set_healthy(false);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] {
    return http_get(proxy.admin_port(), "/status").body.find("\"local_health\":\"down\"") !=
           std::string::npos;
  }));
  auto down_after = std::chrono::steady_clock::now() - t0;
  MESSAGE("marked down after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(down_after).count()
          << " ms (fall 2 x interval 100ms)");
  // Every request now goes to b2.
  for (int i = 0; i < 10; ++i)
    CHECK(http_get(proxy.port(), "/").header("X-Backend") == "b2");

  backends.backend(0).set_healthy(true);
  REQUIRE(eventually([&] { return http_get(proxy.port(), "/").header("X-Backend") == "b1"; }));
}

TEST_CASE("503 with Retry-After when no backend in the pool is healthy") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}, {}, fast_checks}}));
  backends.backend(0).set_healthy(false);
  REQUIRE(eventually([&] { return http_get(proxy.port(), "/").status == 503; }));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 503);
  CHECK(r.header("Retry-After") == "1");
  CHECK(r.body.find("no healthy backend") != std::string::npos);
}

TEST_CASE("a closed port in the pool costs clients nothing over 100 GETs") {
  backend_set backends(2);
  proxy_fixture proxy(proxy_yaml({{"web",
                                   "round_robin",
                                   {"127.0.0.1:" + std::to_string(unused_port()),
                                    backends.address(0), backends.address(1)}}}));
  int errors = 0;
  http_connection conn(proxy.port());
  for (int i = 0; i < 100; ++i)
    if (conn.request("GET", "/").status != 200) ++errors;
  CHECK(errors == 0);
}

TEST_CASE("idempotent requests are retried on 503 from a backend - a POST is not") {
  backend_set backends(2);
  proxy_fixture proxy(proxy_yaml({{"web",
                                   "round_robin",
                                   {backends.address(0), backends.address(1)},
                                   {},
                                   "    retry: { attempts: 2, backoff: 0ms }\n"}},
                                 "workers: 1\n"));
  // Both backends answer 503 on this path: a GET tries each (1 + 2 attempts, different backends
  // first), then relays the last 503.
  auto before =
      backends.backend(0).stats().requests.load() + backends.backend(1).stats().requests.load();
  auto get = http_get(proxy.port(), "/status/503");
  CHECK(get.status == 503);
  auto after_get =
      backends.backend(0).stats().requests.load() + backends.backend(1).stats().requests.load();
  CHECK(after_get - before == 3);

  auto post = http_request(proxy.port(), "POST", "/status/502", {}, "payload");
  CHECK(post.status == 502);
  auto after_post =
      backends.backend(0).stats().requests.load() + backends.backend(1).stats().requests.load();
  CHECK(after_post - after_get == 1);  // the body reached a backend: never sent again
}

TEST_CASE("a backend stopped during a GET load gives clients no errors") {
  backend_set backends(3);
  proxy_fixture proxy(proxy_yaml({{"web",
                                   "round_robin",
                                   {backends.address(0), backends.address(1), backends.address(2)},
                                   {},
                                   fast_checks}}));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&] {
      http_connection conn(proxy.port());
      while (!stop.load())
        (conn.request("GET", "/").status == 200 ? ok : failed)++;
    });
  REQUIRE(eventually([&] { return ok.load() > 300; }));
  backends.backend(1).stop();
  int at_kill = ok.load();
  REQUIRE(eventually([&] { return ok.load() > at_kill + 1000; }, 30s));
  stop = true;
  for (auto& t : clients)
    t.join();
  MESSAGE("GETs while a backend died: " << ok.load() << " ok, " << failed.load() << " failed");
  CHECK(failed.load() == 0);
}

TEST_CASE("consistent_hash keeps a key on one backend - removing one moves only its keys") {
  backend_set backends(3);
  auto pool = [&](std::vector<std::string> addrs) {
    return proxy_yaml({{"web", "consistent_hash", addrs, {}, "    hash_key: \"header:X-User\"\n"}});
  };
  std::map<int, std::string> first;
  {
    proxy_fixture proxy(pool({backends.address(0), backends.address(1), backends.address(2)}));
    http_connection conn(proxy.port());
    for (int k = 0; k < 300; ++k) {
      auto r = conn.request("GET", "/", {{"X-User", "user-" + std::to_string(k)}});
      REQUIRE(r.status == 200);
      first[k] = r.header("X-Backend");
      // Same key again: same backend.
      CHECK(
          conn.request("GET", "/", {{"X-User", "user-" + std::to_string(k)}}).header("X-Backend") ==
          first[k]);
    }
  }
  proxy_fixture smaller(pool({backends.address(0), backends.address(1)}));
  http_connection conn(smaller.port());
  int moved = 0;
  for (int k = 0; k < 300; ++k) {
    auto now =
        conn.request("GET", "/", {{"X-User", "user-" + std::to_string(k)}}).header("X-Backend");
    if (first[k] != "b3" && now != first[k]) ++moved;
  }
  MESSAGE("keys of remaining backends that moved: " << moved << " of 300");
  CHECK(moved <= 300 * 5 / 100);  // at most ~1/N of all keys move: those of the removed backend
}

TEST_CASE("the retry budget caps retries when every backend times out") {
  backend_set backends(2);
  // Every try times out (per_try_timeout 100ms < the 2 s delay): without a budget the 10
  // concurrent requests below would make 10 x (1 + 3) = 40 backend requests. budget_percent 0
  // leaves the floor of 3 retries in flight.
  proxy_fixture proxy(proxy_yaml(
      {{"web",
        "round_robin",
        {backends.address(0), backends.address(1)},
        {},
        "    retry: { attempts: 3, per_try_timeout: 100ms, budget_percent: 0, backoff: 0ms }\n"}},
      "timeouts: { upstream_response: 200ms }\n"));
  std::vector<std::thread> clients;
  std::atomic<int> gateway_timeouts{0};
  for (int c = 0; c < 10; ++c)
    clients.emplace_back([&] {
      if (http_get(proxy.port(), "/delay/2000").status == 504) ++gateway_timeouts;
    });
  for (auto& t : clients)
    t.join();
  auto sent =
      backends.backend(0).stats().requests.load() + backends.backend(1).stats().requests.load();
  MESSAGE("backend requests for 10 client requests: " << sent << " (40 without a budget)");
  CHECK(gateway_timeouts.load() == 10);
  CHECK(sent >= 10);
  CHECK(sent <= 10 + 3 * 3 + 3);  // the floor of 3 retries in flight, each retrying up to 3 times
}

TEST_CASE("least_connections steers new requests away from a backend that hangs") {
  backend_set backends(1);
  // A backend that accepts connections and never answers.
  boost::asio::io_context hang_ctx;
  boost::asio::ip::tcp::acceptor hang(hang_ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
  std::vector<boost::asio::ip::tcp::socket> held;  // only the hang thread touches it
  std::atomic<int> accepted{0};
  std::function<void()> accept_one = [&] {
    hang.async_accept([&](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      held.push_back(std::move(s));
      ++accepted;
      accept_one();
    });
  };
  accept_one();
  std::thread hang_thread([&] { hang_ctx.run(); });

  proxy_fixture proxy(proxy_yaml(
      {{"web",
        "least_connections",
        {backends.address(0), "127.0.0.1:" + std::to_string(hang.local_endpoint().port())},
        {},
        "    retry: { attempts: 0 }\n"}},
      "workers: 1\ntimeouts: { upstream_response: 30s }\n"));
  // Four concurrent requests: those that land on the hanging backend stay in flight.
  std::vector<std::thread> stuck;
  for (int i = 0; i < 4; ++i)
    stuck.emplace_back([&] { http_get(proxy.port(), "/"); });
  // Wait until the requests that went to the healthy backend are done and some hang.
  auto in_flight = [&](std::size_t i) {
    auto status = boost::json::parse(http_get(proxy.admin_port(), "/status").body);
    return status.at("pools").at("web").at("backends").at(i).at("active_requests").as_int64();
  };
  REQUIRE(
      eventually([&] { return accepted.load() > 0 && in_flight(0) == 0 && in_flight(1) > 0; }, 5s));
  // While they hang, every new request goes to the backend with fewer requests in flight.
  http_connection conn(proxy.port());
  for (int i = 0; i < 20; ++i)
    CHECK(conn.request("GET", "/").header("X-Backend") == "b1");
  // Closing the hanging connections ends the stuck requests (502) without waiting for a timeout.
  boost::asio::post(hang_ctx, [&] {
    held.clear();
    hang.close();
  });
  for (auto& t : stuck)
    t.join();
  hang_ctx.stop();
  hang_thread.join();
}
