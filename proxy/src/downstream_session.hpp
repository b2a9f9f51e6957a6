// One client connection: reads requests one after another (keep-alive, pipelining), checks and
// routes each, hands it to a backend through upstream_exchange and streams the answer back.
// Runs as one coroutine on its worker's io_context.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "net_types.hpp"
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
  beast::tcp_stream& stream() noexcept { return stream_; }
  beast::flat_buffer& buffer() noexcept { return buffer_; }
  relay_buffer& relay() noexcept { return relay_; }
  worker& owner() noexcept { return worker_; }
  std::string_view client_ip() const noexcept { return client_ip_; }
  // Writes one of tally's own error responses (error_response.hpp) with this request's id.
  net::awaitable<void> send_error(unsigned status, std::string_view detail, bool keep_alive);

 private:
  enum class header_status { ok, closed, timed_out, too_large, body_too_large, malformed };

  net::awaitable<void> run();
  net::awaitable<header_status> read_header(request_parser& p, std::size_t& header_bytes,
                                            const routing_snapshot& snap);
  // Serves one parsed request; returns true when the connection may carry another.
  net::awaitable<bool> serve(request_parser& p, const routing_snapshot& snap);
  void arm_header_deadline(std::chrono::steady_clock::time_point at);
  void close();

  worker& worker_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  net::steady_timer header_timer_;
  bool header_timed_out_ = false;
  bool idle_ = false;  // between requests, nothing of the next one received yet
  bool first_request_ = true;
  std::string client_ip_;
  relay_buffer relay_;
  char request_id_[128];
  std::size_t request_id_size_ = 0;
};

}  // namespace tally::proxy
