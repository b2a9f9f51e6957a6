// Idle keep-alive connections to backends, owned by one worker (one io_context, one thread), so
// nothing here is locked. Keyed by backend id, which never repeats, so a backend removed by a
// reload can never hand its connections to a new backend at the same address.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace tally::proxy {

struct upstream_connection {
  explicit upstream_connection(boost::asio::io_context& ioc, std::uint64_t backend)
      : stream(ioc), backend_id(backend) {
    // Beast reads at most the buffer's free capacity at a time: give it room for large reads.
    buffer.reserve(16 * 1024);
  }
  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;
  std::uint64_t backend_id;
  std::chrono::steady_clock::time_point idle_since{};
  bool reused = false;  // served a request before: a failure may be the peer's idle close
};

class upstream_pool {
 public:
  using clock = std::chrono::steady_clock;
  // At most this many idle connections are kept per backend per worker; more are closed.
  static constexpr std::size_t max_idle_per_backend = 256;

  // A live idle connection to `backend_id`, or null. Connections idle longer than `max_idle`
  // or already closed by the backend are dropped on the way.
  std::unique_ptr<upstream_connection> checkout(std::uint64_t backend_id, clock::time_point now,
                                                clock::duration max_idle);
  // Keeps a connection whose last response was complete and that the backend keeps open.
  void release(std::unique_ptr<upstream_connection> conn, clock::time_point now);
  // Closes connections idle longer than `max_idle` (called from the worker's periodic sweep).
  void sweep(clock::time_point now, clock::duration max_idle);
  void clear() { idle_.clear(); }
  std::size_t idle_count() const noexcept;

 private:
  std::unordered_map<std::uint64_t, std::vector<std::unique_ptr<upstream_connection>>> idle_;
};

}  // namespace tally::proxy
