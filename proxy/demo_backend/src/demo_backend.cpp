// demo_backend: binding, the accept loop and shutdown. Request handling lives in
// demo_backend_session.cpp.
#include "tally/proxy/demo_backend.hpp"

#include "demo_backend_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace tally::proxy {

namespace {

using detail::demo_backend_session;
using detail::demo_backend_state;
using detail::net::ip::tcp;
namespace net = detail::net;

// The coroutines report errors through error_codes; an exception escaping one can only be a
// bug or bad_alloc in a test server, and must not take down the io_context's threads.
void ignore_exception(const std::exception_ptr&) {}

net::awaitable<void> accept_loop(std::shared_ptr<demo_backend_state> state) {
  for (;;) {
    // Each connection gets its own strand so the backend is correct on a multi-threaded context.
    net::any_io_executor session_executor = net::make_strand(state->ioc);
    auto [ec, socket] =
        co_await state->acceptor.async_accept(session_executor, net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !state->acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning on the error.
      net::steady_timer pause(state->acceptor_strand, std::chrono::milliseconds(10));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    state->stats.connections.fetch_add(1, std::memory_order_relaxed);

    auto session = std::make_shared<demo_backend_session>(state, std::move(socket));
    {
      std::lock_guard lock(state->mutex);
      // Registered under the same lock stop() takes, so a session is either seen and closed by
      // stop() or never started.
      if (state->stopping) co_return;
      state->sessions.emplace(state->next_session_id++, session);
    }
    net::co_spawn(session->get_executor(), demo_backend_session::run(session), ignore_exception);
  }
}

}  // namespace

demo_backend::demo_backend(net::io_context& ioc, std::string name, std::uint16_t port,
                           const std::string& bind_host)
    : state_(std::make_shared<demo_backend_state>(ioc, std::move(name))) {
  // Throwing overloads on purpose: a backend that cannot bind is a start-up failure.
  const tcp::endpoint endpoint(net::ip::make_address(bind_host), port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  state_->port = acceptor.local_endpoint().port();
  net::co_spawn(state_->acceptor_strand, accept_loop(state_), ignore_exception);
}

demo_backend::~demo_backend() {
  try {
    stop();
  } catch (const std::exception&) {
    // Out of memory posting the stop: the io_context's owner stops it anyway.
  }
}

std::uint16_t demo_backend::port() const {
  return state_->port;
}

const std::string& demo_backend::name() const {
  return state_->name;
}

const demo_backend_stats& demo_backend::stats() const {
  return state_->stats;
}

void demo_backend::set_healthy(bool healthy) {
  state_->healthy.store(healthy, std::memory_order_relaxed);
}

void demo_backend::stop() {
  std::vector<std::shared_ptr<demo_backend_session>> open;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) return;
    state_->stopping = true;
    for (auto& [id, weak] : state_->sessions)
      if (auto session = weak.lock()) open.push_back(std::move(session));
  }
  // The acceptor and sockets belong to their strands; closing them from here could race a
  // handler running on another thread, so the closes are posted.
  net::post(state_->acceptor_strand, [state = state_] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (auto& session : open)
    net::post(session->get_executor(), [session] { session->close(); });
}

void demo_backend::release_held() {
  std::vector<std::shared_ptr<demo_backend_session>> open;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& [id, weak] : state_->sessions)
      if (auto session = weak.lock()) open.push_back(std::move(session));
  }
  for (auto& session : open)
    net::post(session->get_executor(), [session] { session->release_hold(); });
}

std::vector<std::pair<std::string, std::string>> demo_backend::last_request_headers() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_headers;
}

}  // namespace tally::proxy
