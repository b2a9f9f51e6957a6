#include "listener/worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <future>

#include "http/downstream_session.hpp"
#include "http/proxy_shared.hpp"
#include "listener/accept_backoff.hpp"

namespace tally::proxy {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

worker::worker(unsigned index, proxy_shared& shared) : worker_context(index, shared) {}

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

void worker::listen(std::vector<listener_spec>& specs) {
  if (auto ec = replace_listeners(specs)) throw boost::system::system_error(ec);
}

std::vector<tcp::endpoint> worker::local_endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& l : listeners_) {
    error_code ec;
    out.push_back(l->acceptor.local_endpoint(ec));
  }
  return out;
}

error_code worker::replace_listeners(std::vector<listener_spec>& specs) {
  std::vector<std::shared_ptr<listener_socket>> next;
  std::vector<bool> opened;
  for (auto& spec : specs) {
    // Port 0 may name several listeners alike ("127.0.0.1:0"): the n-th of a name keeps the
    // socket of the n-th before.
    auto kept = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& l) {
      return l->name == spec.name && std::find(next.begin(), next.end(), l) == next.end();
    });
    if (kept != listeners_.end()) {
      next.push_back(*kept);
      opened.push_back(false);
    } else {
      // Until the loop below commits, a failure drops the sockets opened so far with `next`.
      auto l = std::make_shared<listener_socket>(ioc_, spec.name);
      if (auto ec = open_listener(l->acceptor, spec.endpoint)) return ec;
      next.push_back(std::move(l));
      opened.push_back(true);
    }
    error_code ignored;
    spec.endpoint = next.back()->acceptor.local_endpoint(ignored);  // the next worker joins it
  }
  for (std::size_t i = 0; i < next.size(); ++i)
    next[i]->tls = specs[i].tls;
  for (const auto& old : listeners_) {
    if (std::find(next.begin(), next.end(), old) != next.end()) continue;
    error_code ignored;
    old->acceptor.close(ignored);
    old->pause.cancel();
  }
  listeners_ = std::move(next);
  if (started_)
    for (std::size_t i = 0; i < listeners_.size(); ++i)
      if (opened[i]) net::co_spawn(ioc_, accept_loop(listeners_[i]), net::detached);
  return {};
}

error_code worker::rebind(std::vector<listener_spec>& specs) {
  if (shared_.draining.load()) return net::error::operation_aborted;
  auto done = std::make_shared<std::promise<error_code>>();
  auto wanted = std::make_shared<std::vector<listener_spec>>(specs);
  net::post(ioc_, [this, done, wanted] {
    // A drain that began since the check above closed the listeners for good: keep them closed.
    if (shared_.draining.load()) {
      done->set_value(net::error::operation_aborted);
      return;
    }
    done->set_value(replace_listeners(*wanted));
  });
  auto result = done->get_future();
  // Shutdown may stop the loop before it runs the post; never wait on a stopped loop.
  while (result.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (ioc_.stopped() &&
        result.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready)
      return net::error::operation_aborted;
  }
  auto ec = result.get();
  if (!ec) specs = *wanted;
  return ec;
}

void worker::start() {
  started_ = true;
  for (const auto& l : listeners_)
    net::co_spawn(ioc_, accept_loop(l), net::detached);
  net::co_spawn(ioc_, sweep_loop(), net::detached);
  thread_ = std::thread([this] {
    // "tally-w0", "tally-w1", ...: told apart in top -H, perf and the allocation test.
    char name[16];
    std::snprintf(name, sizeof name, "tally-w%u", index_);
    pthread_setname_np(pthread_self(), name);
    ioc_.run();
  });
}

void worker::begin_drain() {
  net::post(ioc_, [this] {
    for (const auto& l : listeners_) {
      error_code ec;
      l->acceptor.close(ec);
      l->pause.cancel();
    }
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

net::awaitable<void> worker::accept_loop(std::shared_ptr<listener_socket> l) {
  accept_backoff backoff;
  for (;;) {
    // Accepted onto the worker's concrete executor (tcp_socket), as the request path wants it.
    auto [ec, socket] = co_await l->acceptor.async_accept(ioc_, use_tuple);
    if (!l->acceptor.is_open()) co_return;  // closed by a drain or a reload
    if (ec) {
      co_await pause_after_accept_error(ec, "proxy", shared_.registry, backoff, l->pause);
      if (!l->acceptor.is_open()) co_return;
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
    downstream_session::start(
        std::make_shared<downstream_session>(*this, std::move(socket), l->tls));
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
