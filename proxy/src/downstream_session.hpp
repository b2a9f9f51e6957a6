// One client connection: reads requests one after another (keep-alive, pipelining), checks and
// routes each, hands it to an upstream_exchange and goes on with the next. Runs as one
// coroutine on its worker's io_context.
#pragma once

#include <memory>
#include <string>

#include "http_io.hpp"
#include "relay_buffer.hpp"
#include "worker.hpp"

namespace tally::proxy {

class downstream_session : public session_base,
                           public std::enable_shared_from_this<downstream_session> {
 public:
  downstream_session(worker& w, tcp::socket socket);
  ~downstream_session() override;

  static void start(std::shared_ptr<downstream_session> self);
  void on_drain() override;

  // What the upstream exchange needs from the client side of the connection.
  connection_io& io() noexcept { return io_; }
  relay_buffer& relay() noexcept { return relay_; }
  std::string& head_buffer() noexcept { return head_; }
  worker& owner() noexcept { return worker_; }
  proxy_allocator allocator() noexcept { return proxy_allocator(arena_); }
  std::string_view client_ip() const noexcept { return client_ip_; }
  // Writes one of tally's own error responses (error_response.hpp) with this request's id.
  net::awaitable<void> send_error(unsigned status, std::string_view detail, bool keep_alive);

 private:
  net::awaitable<void> run();
  // Serves one parsed request; returns true when the connection may carry another.
  net::awaitable<bool> serve(request_parser& p, const routing_snapshot& snap);
  void close();

  worker& worker_;
  connection_io io_;
  bool idle_ = false;  // between requests, nothing of the next one received yet
  std::string client_ip_;
  relay_buffer relay_;
  header_arena arena_;  // fields of the request and response in flight
  std::string head_;    // serialized message heads, reused for every request
  char request_id_[128];
  std::size_t request_id_size_ = 0;
};

}  // namespace tally::proxy
