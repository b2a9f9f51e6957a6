// acquire_slot: the proxy's wait for a backend slot, on real loops and a real client socket. The
// waiter's loop runs on its own thread and slots are freed from another, as between workers.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include "http/backend_slot.hpp"
#include "support/wait.hpp"

using namespace tally::proxy;
using namespace std::chrono_literals;
using tally::test::eventually;

namespace {

// A client connection as the proxy sees it (`server`), and the client's end (`client`).
struct client_pair {
  explicit client_pair(net::io_context& ioc) : server(proxy_stream(tcp_socket(ioc))), client(ioc) {
    tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server.socket.lowest_layer());
  }
  connection_io server;
  tcp::socket client;
};

// One worker: an io_context on its own thread, waiting in acquire_slot for `b`.
struct waiting_worker {
  waiting_worker(tally::balancer::backend& b, std::chrono::milliseconds timeout)
      : pair(ioc), work(ioc.get_executor()) {
    net::co_spawn(
        ioc,
        [&, timeout]() -> awaitable<void> {
          {
            auto got = co_await acquire_slot(b, timeout, pair.server);
            outcome = got.outcome;
            held = static_cast<bool>(got.slot);
          }  // the slot, if held, is released here on this loop
          done = true;
        },
        net::detached);
    thread = std::thread([this] { ioc.run(); });
  }
  ~waiting_worker() { stop(); }
  void stop() {
    work.reset();
    ioc.stop();
    if (thread.joinable()) thread.join();
  }

  net::io_context ioc;
  client_pair pair;
  net::executor_work_guard<net::io_context::executor_type> work;
  std::atomic<bool> done{false};
  std::optional<slot_outcome> outcome;
  bool held = false;
  std::thread thread;
};

// A backend with `limit` slots, all taken by requests of "another worker" (this thread).
void fill(tally::balancer::backend& b, std::uint64_t limit, std::uint64_t queue = 10) {
  b.slots().set_limits(limit, queue);
  for (std::uint64_t i = 0; i < limit; ++i)
    b.begin_request();
}

}  // namespace

TEST_CASE("backend_slot: without a limit the slot is granted at once and counted until released") {
  tally::balancer::backend b("10.0.0.1:80", 1);
  waiting_worker w(b, 10s);
  REQUIRE(eventually([&] { return w.done.load(); }));
  CHECK(w.outcome == slot_outcome::granted);
  CHECK(w.held);
  CHECK(b.active_requests() == 0);  // released when the coroutine ended
}

TEST_CASE("backend_slot: a release on another thread wakes the waiter on its own loop") {
  tally::balancer::backend b("10.0.0.1:80", 1);
  fill(b, 1);
  waiting_worker w(b, 30s);
  REQUIRE(eventually([&] { return b.queued_requests() == 1; }));
  CHECK_FALSE(w.done.load());
  b.end_request();  // the request of the other worker ends: its slot passes to the waiter
  REQUIRE(eventually([&] { return w.done.load(); }));
  CHECK(w.outcome == slot_outcome::granted);
  CHECK(w.held);
  CHECK(b.queued_requests() == 0);
  CHECK(b.active_requests() == 0);
}

TEST_CASE("backend_slot: a full queue refuses at once - a wait past the timeout gives up") {
  tally::balancer::backend b("10.0.0.1:80", 1);
  fill(b, 1, 0);
  {
    waiting_worker refused(b, 30s);
    REQUIRE(eventually([&] { return refused.done.load(); }));
    CHECK(refused.outcome == slot_outcome::queue_full);
    CHECK_FALSE(refused.held);
  }
  b.slots().set_limits(1, 10);
  waiting_worker late(b, 50ms);
  REQUIRE(eventually([&] { return late.done.load(); }));
  CHECK(late.outcome == slot_outcome::timed_out);
  CHECK_FALSE(late.held);
  CHECK(b.queued_requests() == 0);
  CHECK(b.active_requests() == 1);  // the other worker's request still holds its slot
}

TEST_CASE("backend_slot: the client closing ends the wait - early bytes from it do not") {
  tally::balancer::backend b("10.0.0.1:80", 1);
  fill(b, 1);
  {
    waiting_worker w(b, 30s);
    REQUIRE(eventually([&] { return b.queued_requests() == 1; }));
    w.pair.client.close();
    REQUIRE(eventually([&] { return w.done.load(); }));
    CHECK(w.outcome == slot_outcome::client_gone);
    CHECK(b.queued_requests() == 0);
  }
  waiting_worker pipelined(b, 30s);
  REQUIRE(eventually([&] { return b.queued_requests() == 1; }));
  net::write(pipelined.pair.client, net::buffer(std::string_view("GET /next HTTP/1.1\r\n")));
  b.end_request();
  REQUIRE(eventually([&] { return pipelined.done.load(); }));
  CHECK(pipelined.outcome == slot_outcome::granted);
}

TEST_CASE("backend_slot: a loop stopped while its request waits leaves the queue clean") {
  tally::balancer::backend b("10.0.0.1:80", 1);
  fill(b, 1);
  {
    waiting_worker w(b, 30s);
    REQUIRE(eventually([&] { return b.queued_requests() == 1; }));
    w.stop();
  }  // the io_context, and the waiting coroutine with it, is destroyed here
  CHECK(b.queued_requests() == 0);
  b.end_request();
  CHECK(b.active_requests() == 0);
}
