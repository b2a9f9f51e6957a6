#include "listener/worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <future>

#include "http/downstream_session.hpp"
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
  std::promise<error_code> done;
  net::post(ioc_, [&] {
    tcp::acceptor fresh(ioc_);
    auto ec = open_listener(fresh, ep);
    if (!ec) {
      error_code ignored;
      acceptor_.close(ignored);
      acceptor_ = std::move(fresh);
      ep = acceptor_.local_endpoint();
      net::co_spawn(ioc_, accept_loop(++listener_generation_), net::detached);
    }
    done.set_value(ec);
  });
  return done.get_future().get();
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
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (!acceptor_.is_open() || generation != listener_generation_) co_return;
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
