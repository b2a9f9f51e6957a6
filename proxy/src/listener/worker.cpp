#include "listener/worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <future>

#include "http/downstream_session.hpp"
#include "listener/accept_backoff.hpp"
#include "listener/proxy_shared.hpp"

namespace tally::proxy {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

worker::worker(unsigned index, proxy_shared& shared) : index_(index), shared_(shared) {}

worker::~worker() {
  stop();
  join();
}

namespace {

error_code open_listener(tcp::acceptor& a, const tcp::endpoint& ep) {
  error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  // Every worker binds the same address; the kernel spreads new connections between them.
  if (!ec) a.set_option(reuse_port(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  return ec;
}

}  // namespace

void worker::listen(const tcp::endpoint& ep) {
  if (auto ec = open_listener(acceptor_, ep)) throw boost::system::system_error(ec);
}

error_code worker::rebind(tcp::endpoint& ep) {
  if (shared_.draining.load()) return net::error::operation_aborted;
  auto done = std::make_shared<std::promise<error_code>>();
  auto bound = std::make_shared<tcp::endpoint>(ep);
  net::post(ioc_, [this, done, bound] {
    // A drain that began since the check above closed the listener for good: keep it closed.
    if (shared_.draining.load()) {
      done->set_value(net::error::operation_aborted);
      return;
    }
    tcp::acceptor fresh(ioc_);
    auto ec = open_listener(fresh, *bound);
    if (!ec) {
      error_code ignored;
      acceptor_.close(ignored);
      acceptor_ = std::move(fresh);
      *bound = acceptor_.local_endpoint();
      accept_pause_.cancel();
      net::co_spawn(ioc_, accept_loop(++listener_generation_), net::detached);
    }
    done->set_value(ec);
  });
  auto result = done->get_future();
  // Shutdown may stop the loop before it runs the post; never wait on a stopped loop.
  while (result.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (ioc_.stopped() &&
        result.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready)
      return net::error::operation_aborted;
  }
  auto ec = result.get();
  if (!ec) ep = *bound;
  return ec;
}

void worker::start() {
  net::co_spawn(ioc_, accept_loop(listener_generation_), net::detached);
  net::co_spawn(ioc_, sweep_loop(), net::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

void worker::begin_drain() {
  net::post(ioc_, [this] {
    error_code ec;
    acceptor_.close(ec);
    accept_pause_.cancel();
    sweep_timer_.cancel();
    upstreams_.clear();
    // on_drain may unlink the session it is called on: advance before calling.
    for (auto it = sessions_.begin(); it != sessions_.end();)
      (it++)->on_drain();
  });
}

void worker::stop() {
  ioc_.stop();
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

const std::shared_ptr<const routing_snapshot>& worker::snapshot() {
  auto gen = shared_.snapshots.generation();
  if (gen != snapshot_generation_) {
    snapshot_ = shared_.snapshots.load();
    snapshot_generation_ = gen;
  }
  return snapshot_;
}

net::awaitable<void> worker::accept_loop(unsigned generation) {
  accept_backoff backoff;
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (!acceptor_.is_open() || generation != listener_generation_) co_return;
    if (ec) {
      co_await pause_after_accept_error(ec, "proxy", shared_.registry, backoff, accept_pause_);
      if (!acceptor_.is_open() || generation != listener_generation_) co_return;
      continue;
    }
    backoff.reset();
    const auto limit = std::min(static_cast<std::int64_t>(snapshot()->cfg->limits.max_connections),
                                shared_.connection_cap.load(std::memory_order_relaxed));
    if (shared_.downstream_connections.load(std::memory_order_relaxed) >= limit) {
      // Over limits.max_connections, or what the descriptor limit holds: refuse rather than
      // degrade everyone, or run out of descriptors for health checks and logs.
      socket.close(ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    downstream_session::start(std::make_shared<downstream_session>(*this, std::move(socket)));
  }
}

net::awaitable<void> worker::sweep_loop() {
  for (;;) {
    sweep_timer_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await sweep_timer_.async_wait(use_tuple);
    if (ec) co_return;
    upstreams_.sweep(std::chrono::steady_clock::now(), snapshot()->cfg->timeouts.idle);
  }
}

}  // namespace tally::proxy
