// The proxy side of a tally process: N worker threads, each with its own io_context and its own
// SO_REUSEPORT socket for each configured listener, all reading one snapshot_holder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "tally/health/outlier_detector.hpp"
#include "tally/proxy/access_log.hpp"
#include "tally/proxy/metrics.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

// One client listener: its name (the address as configured; a reload keeps the socket of a
// listener whose name is unchanged), where to bind, and its TLS (null: plain HTTP).
struct listener_spec {
  std::string name;
  boost::asio::ip::tcp::endpoint endpoint;
  std::shared_ptr<server_tls> tls;
};

class proxy_server {
 public:
  // `requests_log` (may be null) receives one record per request; it must outlive the server.
  // `registry` (may be null) counts accept errors.
  proxy_server(snapshot_holder& snapshots, unsigned workers, access_log* requests_log = nullptr,
               health::outlier_detector* outliers = nullptr, metrics* registry = nullptr);
  ~proxy_server();

  // Binds every worker's listeners (port 0 picks one port per listener, shared by all the
  // workers). Throws on failure.
  void listen(std::vector<listener_spec> specs);
  boost::asio::ip::tcp::endpoint local_endpoint() const;                // the first listener's
  std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;  // in config order
  // Makes every worker's listeners `specs` (a reload): unchanged ones keep their sockets and
  // take the new TLS settings for new connections, new ones are bound, removed ones closed;
  // established connections stay. Blocks until done; call off the workers. On failure nothing
  // changes. Once a drain has begun it refuses (operation_aborted): a stopping process opens no
  // listener, and it never waits on a loop that shutdown has stopped.
  boost::system::error_code rebind(std::vector<listener_spec> specs);

  void start();
  // Stops accepting and closes idle keep-alive connections; requests in flight go on, and
  // their connections close after the response.
  void begin_drain();
  bool draining() const noexcept;  // thread-safe: begin_drain() was called
  // Thread-safe: never more client connections than `cap`, whatever limits.max_connections
  // says (the descriptor limit cannot hold more).
  void set_connection_cap(std::int64_t cap) noexcept;
  std::int64_t connections() const noexcept;
  std::int64_t active_requests() const noexcept;
  void stop();  // stops the loops now and joins the threads

  unsigned workers() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tally::proxy
