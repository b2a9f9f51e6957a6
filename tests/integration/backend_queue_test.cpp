// pools.<name>.max_connections and queue over real sockets: a full backend makes requests wait in
// tally, in order, and refuses them with 503 + Retry-After when the queue is full or the wait
// runs out. Backends hold requests (/hold) until the test releases them: no clock involved.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/proxy_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "tally/config/load.hpp"
#include "tally/proxy/app.hpp"

using namespace tally::test;

namespace {

// The value of `family{backend="ADDRESS",pool="web"}` in a scrape, or nullopt when absent.
std::optional<double> backend_gauge(std::uint16_t admin_port, const std::string& family,
                                    const std::string& address) {
  auto scraped = http_get(admin_port, "/metrics");
  const auto key = family + "{backend=\"" + address + "\",pool=\"web\"} ";
  const auto at = scraped.body.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(scraped.body.substr(at + key.size()));
}

std::optional<double> queue_length(std::uint16_t admin_port, const std::string& address) {
  return backend_gauge(admin_port, "tally_backend_queue_length", address);
}

bool queue_length_is(std::uint16_t admin_port, const std::string& address, double n) {
  return eventually([&] { return queue_length(admin_port, address) == n; });
}

// The slot of a request is freed a moment after its client has the answer.
bool active_is(std::uint16_t admin_port, const std::string& address, double n) {
  return eventually(
      [&] { return backend_gauge(admin_port, "tally_backend_active_requests", address) == n; });
}

bool held_is(tally::proxy::demo_backend& b, std::uint64_t n) {
  return eventually([&] { return b.stats().held.load() == n; });
}

std::future<http_result> get_async(std::uint16_t port, std::string target) {
  return std::async(std::launch::async,
                    [port, target = std::move(target)] { return http_get(port, target); });
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string limited(const std::string& queue) {
  return "    max_connections: 1\n    queue: " + queue + "\n";
}

}  // namespace

TEST_CASE("max_connections 1: a second request waits in tally - is counted - then succeeds") {
  backend_set backends(1);
  auto& b = backends.backend(0);
  const auto address = backends.address(0);
  proxy_fixture proxy(
      proxy_yaml({{"web", "round_robin", {address}, {}, limited("{ max: 10, timeout: 30s }")}}));
  CHECK(queue_length(proxy.admin_port(), address) == 0);

  auto first = get_async(proxy.port(), "/hold");
  REQUIRE(held_is(b, 1));
  auto second = get_async(proxy.port(), "/hold");
  REQUIRE(queue_length_is(proxy.admin_port(), address, 1));
  // The second request waits in tally, not at the backend.
  CHECK(b.stats().requests.load() == 1);
  CHECK(backend_gauge(proxy.admin_port(), "tally_backend_active_requests", address) == 1);

  const auto released = std::chrono::steady_clock::now();
  b.release_held();
  auto r1 = first.get();
  CHECK(r1.status == 200);
  // The freed slot went to the waiter: it reaches the backend with nothing else happening.
  REQUIRE(held_is(b, 1));
  MESSAGE("release of the first to the waiter at the backend: " << ms_since(released) << " ms");
  CHECK(queue_length(proxy.admin_port(), address) == 0);
  b.release_held();
  auto r2 = second.get();
  CHECK(r2.status == 200);
  CHECK(r2.body == "b1\n");
  CHECK(b.stats().requests.load() == 2);
  CHECK(queue_length_is(proxy.admin_port(), address, 0));
}

TEST_CASE("queue max 1: of three concurrent requests one gets 503 with Retry-After at once") {
  backend_set backends(1);
  auto& b = backends.backend(0);
  const auto address = backends.address(0);
  proxy_fixture proxy(
      proxy_yaml({{"web", "round_robin", {address}, {}, limited("{ max: 1, timeout: 30s }")}}));

  auto first = get_async(proxy.port(), "/hold");
  REQUIRE(held_is(b, 1));
  auto second = get_async(proxy.port(), "/hold");
  REQUIRE(queue_length_is(proxy.admin_port(), address, 1));

  // The queue is full: answered without waiting (the 30 s queue.timeout never comes into it).
  const auto sent = std::chrono::steady_clock::now();
  auto third = http_get(proxy.port(), "/hold", {}, std::chrono::seconds(10));
  MESSAGE("503 for a full queue after " << ms_since(sent) << " ms");
  CHECK(third.status == 503);
  CHECK(third.header("Retry-After") == "1");
  CHECK(third.body.find("max_connections") != std::string::npos);
  CHECK(third.body.find("queue is full") != std::string::npos);
  CHECK(third.body.find("request id") != std::string::npos);
  CHECK(b.stats().requests.load() == 1);

  b.release_held();
  CHECK(first.get().status == 200);
  REQUIRE(held_is(b, 1));
  b.release_held();
  CHECK(second.get().status == 200);
  CHECK(b.stats().requests.load() == 2);
}

TEST_CASE("queue timeout: a request that waits longer than queue.timeout gets 503") {
  backend_set backends(1);
  auto& b = backends.backend(0);
  const auto address = backends.address(0);
  proxy_fixture proxy(
      proxy_yaml({{"web", "round_robin", {address}, {}, limited("{ max: 10, timeout: 200ms }")}}));

  auto first = get_async(proxy.port(), "/hold");
  REQUIRE(held_is(b, 1));
  const auto sent = std::chrono::steady_clock::now();
  auto waited = http_get(proxy.port(), "/hold", {}, std::chrono::seconds(10));
  MESSAGE("503 after queue.timeout 200ms: " << ms_since(sent) << " ms");
  CHECK(waited.status == 503);
  CHECK(waited.header("Retry-After") == "1");
  CHECK(waited.body.find("queue.timeout") != std::string::npos);
  CHECK(queue_length(proxy.admin_port(), address) == 0);
  CHECK(b.stats().requests.load() == 1);

  // A refusal is not a backend failure: the held request completes and the next one is served.
  b.release_held();
  CHECK(first.get().status == 200);
  CHECK(active_is(proxy.admin_port(), address, 0));
  CHECK(http_get(proxy.port(), "/").status == 200);
  CHECK(active_is(proxy.admin_port(), address, 0));
}

TEST_CASE("a client that closes its connection while queued leaves the queue at once") {
  backend_set backends(1);
  auto& b = backends.backend(0);
  const auto address = backends.address(0);
  proxy_fixture proxy(
      proxy_yaml({{"web", "round_robin", {address}, {}, limited("{ max: 10, timeout: 30s }")}}));

  auto first = get_async(proxy.port(), "/hold");
  REQUIRE(held_is(b, 1));
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket s(ioc);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), proxy.port()});
    boost::asio::write(
        s, boost::asio::buffer(std::string_view("GET /hold HTTP/1.1\r\nHost: a\r\n\r\n")));
    REQUIRE(queue_length_is(proxy.admin_port(), address, 1));
  }  // closed: tally must notice long before the 30 s queue.timeout
  const auto closed = std::chrono::steady_clock::now();
  CHECK(queue_length_is(proxy.admin_port(), address, 0));
  MESSAGE("queue empty " << ms_since(closed) << " ms after the waiting client closed");

  b.release_held();
  CHECK(first.get().status == 200);
  // The waiter that left took no slot: the next request goes straight through.
  CHECK(http_get(proxy.port(), "/").status == 200);
  CHECK(b.stats().requests.load() == 2);
  CHECK(active_is(proxy.admin_port(), address, 0));
}

TEST_CASE("round_robin sends a request to a backend with room rather than queue it") {
  backend_set backends(2);
  proxy_fixture proxy(proxy_yaml({{"web",
                                   "round_robin",
                                   {backends.address(0), backends.address(1)},
                                   {},
                                   limited("{ max: 10, timeout: 30s }")}}));
  auto first = get_async(proxy.port(), "/hold");
  REQUIRE(eventually([&] {
    return backends.backend(0).stats().held.load() + backends.backend(1).stats().held.load() == 1;
  }));
  const std::size_t busy = backends.backend(0).stats().held.load() == 1 ? 0 : 1;
  const auto free_address = backends.address(1 - busy);
  // Whatever the rotation says, the free backend takes every request while the other is full.
  for (int i = 0; i < 4; ++i) {
    // The client has its answer a moment before tally frees the slot: wait for that, or both
    // backends are full and the request queues at whichever the rotation names.
    REQUIRE(eventually([&] {
      return backend_gauge(proxy.admin_port(), "tally_backend_active_requests", free_address) == 0;
    }));
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 200);
    CHECK(r.body == (busy == 0 ? "b2\n" : "b1\n"));
  }
  backends.backend(busy).release_held();
  CHECK(first.get().status == 200);
}

TEST_CASE("a reload that raises max_connections lets queued requests in - none is lost") {
  backend_set backends(1);
  auto& b = backends.backend(0);
  const auto address = backends.address(0);
  temp_dir scratch;
  const auto path = (scratch.path() / "tally.yaml").string();
  auto with_limit = [&](int n) {
    return proxy_yaml({{"web",
                        "round_robin",
                        {address},
                        {},
                        "    max_connections: " + std::to_string(n) +
                            "\n    queue: { max: 10, timeout: 30s }\n"}});
  };
  std::ofstream(path) << with_limit(1);
  auto loaded = tally::config::load_config_file(path);
  REQUIRE(loaded.ok());
  tally::proxy::app app(loaded.value, {path, false});
  app.start();
  std::thread control([&] { app.run(); });

  auto first = get_async(app.proxy_port(), "/hold");
  REQUIRE(held_is(b, 1));
  auto second = get_async(app.proxy_port(), "/hold");
  auto third = get_async(app.proxy_port(), "/hold");
  REQUIRE(queue_length_is(app.admin_port(), address, 2));

  // A reload that keeps the limit keeps both waiting; a higher limit lets one in at once.
  std::ofstream(path) << with_limit(1);
  CHECK(app.reload() == "");
  CHECK(queue_length(app.admin_port(), address) == 2);
  std::ofstream(path) << with_limit(2);
  CHECK(app.reload() == "");
  REQUIRE(held_is(b, 2));
  CHECK(queue_length(app.admin_port(), address) == 1);

  b.release_held();
  CHECK(first.get().status == 200);
  REQUIRE(held_is(b, 1));
  b.release_held();
  CHECK(second.get().status == 200);
  CHECK(third.get().status == 200);
  CHECK(b.stats().requests.load() == 3);

  app.shutdown();
  control.join();
}
