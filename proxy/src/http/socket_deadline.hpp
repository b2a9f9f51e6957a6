// A per-socket deadline that costs a clock read per operation instead of a timer operation.
//
// beast::tcp_stream arms and cancels a timer around every read and write; on a proxy that does
// four socket operations per request that was a large share of the CPU per request. Here one
// timer per socket is armed lazily: expires_after() only moves a time point forward, and the
// timer, when it fires early, re-arms itself at the current deadline. When the deadline has
// really passed it cancels the socket's pending operations and remembers it was a timeout, so
// the operation's owner can tell a timeout (408, 504) from other errors.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/handler_storage.hpp"

namespace tally::proxy {

template <class Socket>
class basic_socket_deadline {
 public:
  using clock = std::chrono::steady_clock;

  explicit basic_socket_deadline(Socket& socket) : state_(std::make_shared<state>(socket)) {}
  ~basic_socket_deadline() {
    state_->socket = nullptr;  // a timer handler already queued must not touch the socket
    try {
      state_->timer.cancel();
    } catch (const boost::system::system_error&) {
      // Cannot happen on Linux's reactor; the handler would then find the socket gone anyway.
    }
  }
  basic_socket_deadline(const basic_socket_deadline&) = delete;
  basic_socket_deadline& operator=(const basic_socket_deadline&) = delete;

  // Operations started from now on must finish within `d` (until the next call).
  void expires_after(clock::duration d) { expires_at(clock::now() + d); }
  void expires_at(clock::time_point at) {
    auto& s = *state_;
    s.timed_out = false;
    s.deadline = at;
    if (!s.armed || at < s.timer.expiry()) arm(state_);
  }
  void expires_never() {
    state_->timed_out = false;
    state_->deadline = clock::time_point::max();
  }
  // True when the last operation failed because the deadline passed.
  bool timed_out() const noexcept { return state_->timed_out; }

 private:
  // The timer's wait operation: 192 bytes with Boost 1.81 and GCC 12 on x86-64. When a shorter
  // deadline re-arms while the cancelled wait is still queued, the new one comes from Asio's
  // cache; the slot is free again from the next arm.
  static constexpr std::size_t wait_size = 192;
  using wait_storage = handler_storage<wait_size>;
  using wait_allocator = handler_storage_allocator<void, wait_storage>;

  struct state {
    explicit state(Socket& s) : socket(&s), timer(s.get_executor()) {}
    Socket* socket;
    // On the socket's own executor type: no conversion to any_io_executor.
    typename boost::asio::steady_timer::rebind_executor<typename Socket::executor_type>::other
        timer;
    clock::time_point deadline = clock::time_point::max();
    bool armed = false;
    bool timed_out = false;
    wait_storage waits;
  };

  static void arm(const std::shared_ptr<state>& sp) {
    sp->armed = true;
    sp->timer.expires_at(sp->deadline);
    sp->timer.async_wait(
        boost::asio::bind_allocator(wait_allocator(sp->waits), [sp](boost::system::error_code ec) {
          if (ec || !sp->socket) return;  // re-armed elsewhere, or the socket is gone
          sp->armed = false;
          if (sp->deadline == clock::time_point::max()) return;
          if (clock::now() < sp->deadline) {
            arm(sp);  // the deadline moved on since this wait began
            return;
          }
          sp->timed_out = true;
          // A socket cancels its pending operations; an in-memory test stream can only close.
          if constexpr (requires(Socket & s, boost::system::error_code & e) { s.cancel(e); })
            sp->socket->cancel(ec);
          else
            sp->socket->close();
        }));
  }

  std::shared_ptr<state> state_;
};

using socket_deadline = basic_socket_deadline<boost::asio::ip::tcp::socket>;

}  // namespace tally::proxy
