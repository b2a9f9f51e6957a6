#include "http/backend_slot.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <memory>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace tally::proxy {

namespace {

// The waiting request's side of the queue. Shared: a grant posts a handler that holds it, and
// that handler may run after the wait has ended some other way.
class timer_waiter final : public balancer::slot_waiter,
                           public std::enable_shared_from_this<timer_waiter> {
 public:
  explicit timer_waiter(const worker_executor& ex) : timer(ex) {}

  // Runs on the thread that freed the slot, under the queue's lock: only a post to our loop.
  void on_granted() noexcept override {
    try {
      net::post(timer.get_executor(), [self = shared_from_this()] { self->timer.cancel(); });
    } catch (...) {
      // Out of memory: the wait ends at its timeout instead, and finds the slot granted.
    }
  }

  worker_timer timer;   // expires at queue.timeout; cancelled by a grant or a client close
  bool waiting = true;  // false once the wait is over: late handlers do nothing
  bool client_gone = false;
};

// Ends the wait when the client closes. Readable with bytes (the rest of the body, a pipelined
// request) says nothing about a close, and peeking cannot tell more without reading: the watch
// then stops and the wait ends by grant or timeout.
void watch_client(const std::shared_ptr<timer_waiter>& w, tcp_socket& client) {
  client.async_wait(tcp::socket::wait_read, [w, &client](error_code ec) {
    // `client` is only touched while the wait is on: the request, and so its socket, lives.
    if (ec || !w->waiting) return;
    char byte;
    const auto n = ::recv(client.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    const bool closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    if (closed) {
      w->client_gone = true;
      w->timer.cancel();
    } else if (n < 0) {
      watch_client(w, client);  // woken without data after all: keep watching
    }
  });
}

// Takes the waiter out of the queue on every way out of the wait, the coroutine's destruction
// at shutdown included; a slot granted meanwhile is handed back to the queue.
class queued_guard {
 public:
  queued_guard(balancer::slot_queue& q, timer_waiter& w) : queue_(q), waiter_(w) {}
  queued_guard(const queued_guard&) = delete;
  queued_guard& operator=(const queued_guard&) = delete;
  ~queued_guard() {
    if (armed_ && !queue_.cancel(waiter_)) queue_.release();
  }
  // True when the slot was granted (the caller now holds it).
  bool finish() noexcept {
    armed_ = false;
    return !queue_.cancel(waiter_);
  }

 private:
  balancer::slot_queue& queue_;
  timer_waiter& waiter_;
  bool armed_ = true;
};

}  // namespace

std::optional<slot_result> acquire_unlimited_slot(balancer::backend& b) noexcept {
  if (b.slots().max_active() != 0) return std::nullopt;
  b.begin_request();
  return slot_result{slot_outcome::granted, backend_slot(b)};
}

awaitable<slot_result> acquire_slot(balancer::backend& b, std::chrono::milliseconds timeout,
                                    connection_io& client) {
  auto& slots = b.slots();
  // Without a limit, skip the waiter's allocation.
  if (auto now = acquire_unlimited_slot(b)) co_return std::move(*now);
  auto waiter = std::make_shared<timer_waiter>(co_await net::this_coro::executor);
  switch (slots.acquire(*waiter)) {
    case balancer::slot_queue::admission::granted:
      co_return slot_result{slot_outcome::granted, backend_slot(b)};
    case balancer::slot_queue::admission::full:
      co_return slot_result{slot_outcome::queue_full, {}};
    case balancer::slot_queue::admission::queued:
      break;
  }
  queued_guard guard(slots, *waiter);
  waiter->timer.expires_after(timeout);
  watch_client(waiter, client.socket.lowest_layer());
  co_await waiter->timer.async_wait(use_worker_tuple);
  waiter->waiting = false;
  error_code ignored;
  client.socket.cancel(ignored);  // ends the watch; the client socket has no other operation now
  if (guard.finish()) co_return slot_result{slot_outcome::granted, backend_slot(b)};
  co_return slot_result{waiter->client_gone ? slot_outcome::client_gone : slot_outcome::timed_out,
                        {}};
}

}  // namespace tally::proxy
