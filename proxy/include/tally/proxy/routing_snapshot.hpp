// The immutable routing state every request reads: config, pools (with their backends and
// policies), resolved backend endpoints and the route table. One object, published through one
// atomic pointer, so a reload never shows a request half an update (STYLE practice 2).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "tally/balancer/pool.hpp"
#include "tally/config/config.hpp"
#include "tally/proxy/metrics.hpp"
#include "tally/proxy/route_table.hpp"

namespace tally::tls {
class server_tls;
class client_tls;
}  // namespace tally::tls

namespace tally::proxy {

using tls::client_tls;
using tls::server_tls;

// One client listener of the config: its name (the address as configured, also the label of
// its metrics) and, on a TLS listener, its certificates.
struct listener_entry {
  std::string name;
  std::shared_ptr<server_tls> tls;  // null: plain HTTP
};

struct routing_snapshot {
  std::shared_ptr<const config::config> cfg;
  std::vector<std::unique_ptr<balancer::pool>> pools;  // same order as cfg->pools
  // endpoints[pool][backend]: where backend `backend` of pool `pool` is connected to.
  std::vector<std::vector<boost::asio::ip::tcp::endpoint>> endpoints;
  route_table routes;
  std::vector<listener_entry> listeners;  // same order as cfg->listeners
  // upstream_tls[pool]: TLS to the pool's backends; null for plain HTTP.
  std::vector<std::shared_ptr<const client_tls>> upstream_tls;
  std::shared_ptr<server_tls> admin_tls;  // admin.tls; null: the admin listener is plain HTTP
  // Metric handles [pool][backend] for this snapshot's pools (null when metrics are off).
  std::shared_ptr<const metrics_binding> metrics;

  const balancer::pool* find_pool(std::string_view name) const noexcept;
  const listener_entry* find_listener(std::string_view name) const noexcept;
};

// Builds a snapshot for `cfg`. Backends that also exist in `previous` (same pool name and
// address) keep their live state object, so health, drain, weight overrides and counters carry
// over a reload; TLS contexts whose settings did not change are kept too (their session caches
// with them). Resolves host names (blocking): call at start-up or off the workers.
// Throws std::runtime_error with a message naming the backend when a name does not resolve, or
// the file when OpenSSL refuses a certificate.
std::shared_ptr<const routing_snapshot> build_snapshot(std::shared_ptr<const config::config> cfg,
                                                       const routing_snapshot* previous,
                                                       unsigned workers,
                                                       metrics* registry = nullptr);

// Sets each backend's max_connections and queue.max from `snap`'s pools. The limits live in the
// backend objects (shared with older snapshots), so they change in place and queued requests
// stay queued; a higher limit lets waiters in at once. Called when `snap` is published, not
// when it is built: a reload rejected after building changes nothing.
void apply_backend_limits(const routing_snapshot& snap);

// Where the current snapshot lives. Workers keep their own copy and refresh it when the
// generation changes, so the common path is one relaxed load. Publishing a snapshot applies
// its backend limits.
class snapshot_holder {
 public:
  explicit snapshot_holder(std::shared_ptr<const routing_snapshot> first)
      : current_(std::move(first)) {
    if (auto snap = current_.load()) apply_backend_limits(*snap);
  }

  std::shared_ptr<const routing_snapshot> load() const {
    return current_.load(std::memory_order_acquire);
  }
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  void store(std::shared_ptr<const routing_snapshot> next) {
    if (next) apply_backend_limits(*next);
    current_.store(std::move(next), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::shared_ptr<const routing_snapshot>> current_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace tally::proxy
