// Idle keep-alive connections to backends, owned by one worker (one io_context, one thread), so
// nothing here is locked. Keyed by backend id, which never repeats, so a backend removed by a
// reload can never hand its connections to a new backend at the same address.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "http/http_io.hpp"

namespace tally::proxy {

struct upstream_connection {
  upstream_connection(net::io_context& ioc, std::uint64_t backend)
      : io(proxy_stream(tcp_socket(ioc))), backend_id(backend) {}
  connection_io io;
  std::uint64_t backend_id;
  std::chrono::steady_clock::time_point idle_since{};
  bool reused = false;            // served a request before: a failure may be the peer's idle close
  const void* tls = nullptr;      // the pool's client_tls it was made with; null: plain
  bool tls_session_kept = false;  // its TLS session was offered for resumption (once)
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

 private:
  struct backend_entry {
    std::vector<std::unique_ptr<upstream_connection>> connections;
    clock::time_point last_release{};
  };
  std::unordered_map<std::uint64_t, backend_entry> idle_;
};

}  // namespace tally::proxy
