#include "worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "downstream_session.hpp"
#include "proxy_shared.hpp"

namespace tally::proxy {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

worker::worker(unsigned index, proxy_shared& shared) : index_(index), shared_(shared) {}

worker::~worker() {
  stop();
  join();
}

void worker::listen(const tcp::endpoint& ep) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  // Every worker binds the same address; the kernel spreads new connections between them.
  acceptor_.set_option(reuse_port(true));
  acceptor_.bind(ep);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void worker::start() {
  net::co_spawn(ioc_, accept_loop(), net::detached);
  net::co_spawn(ioc_, sweep_loop(), net::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

void worker::begin_drain() {
  net::post(ioc_, [this] {
    error_code ec;
    acceptor_.close(ec);
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

net::awaitable<void> worker::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (!acceptor_.is_open()) co_return;
    if (ec) {
      // Out of file descriptors and similar: pause instead of spinning on the error.
      net::steady_timer pause(ioc_, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto limit = snapshot()->cfg->limits.max_connections;
    if (shared_.downstream_connections.load(std::memory_order_relaxed) >=
        static_cast<std::int64_t>(limit)) {
      socket.close(ec);  // over limits.max_connections: refuse rather than degrade everyone
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
