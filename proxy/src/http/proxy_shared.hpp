// State every worker of one proxy server reads: the routing snapshot and server-wide counters.
#pragma once

#include <atomic>
#include <cstdint>

#include "tally/health/outlier_detector.hpp"
#include "tally/proxy/access_log.hpp"
#include "tally/proxy/metrics.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

struct proxy_shared {
  explicit proxy_shared(snapshot_holder& s) : snapshots(s) {}
  snapshot_holder& snapshots;
  std::atomic<std::int64_t> downstream_connections{0};
  std::atomic<std::int64_t> active_requests{0};
  std::atomic<std::int64_t> retries_in_flight{0};
  std::atomic<bool> draining{false};
  // Client connections the descriptor limit holds (process_limits.hpp); below
  // limits.max_connections only when the limit is too low for it.
  std::atomic<std::int64_t> connection_cap{INT64_MAX};
  access_log* requests_log = nullptr;  // null when access_log.enabled is false
  health::outlier_detector* outliers = nullptr;
  metrics* registry = nullptr;  // process-wide counters (accept errors); may be null
};

}  // namespace tally::proxy
