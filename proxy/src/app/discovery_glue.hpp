// Service discovery in the app: one etcd watcher (or DNS refresher) per pool with a `discovery`
// section, all on the control loop; the sets they publish replace the pool's configured backend
// list when the routing snapshot is built, on start, on reload and on every change.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "tally/config/config.hpp"
#include "tally/discovery/discovered_backend.hpp"
#include "tally/proxy/metrics.hpp"

namespace tally::proxy {

// What a pool's source last published, as /status and the checkpoint show it.
struct discovered_pool {
  std::string source;  // "etcd" or "dns"
  std::int64_t revision = 0;
  std::int64_t last_update_ms = 0;  // Unix milliseconds
  std::vector<discovery::discovered_backend> backends;
};

class discovery_sources {
 public:
  // `changed` runs on the control loop after a pool's set changed.
  discovery_sources(boost::asio::io_context& control, metrics& registry,
                    std::function<void()> changed);
  ~discovery_sources();

  // On the control loop: starts the sources of cfg's pools, keeps those whose settings did not
  // change, stops the rest. A pool that lost its discovery section forgets its set; one whose
  // source changed keeps it until the new source answers.
  void configure(const config::config& cfg);
  void stop();

  // Thread-safe: `cfg` with every discovered pool's backends replaced by its discovered set.
  // Pools whose source has not answered yet keep the configured list.
  std::shared_ptr<const config::config> overlay(std::shared_ptr<const config::config> cfg) const;
  // Thread-safe: {pool: {source, revision, last_update, backends}} for /status.
  boost::json::object status_json() const;
  // Thread-safe: the current sets (for the checkpoint), and a set restored from it before the
  // sources start; it serves until the pool's source publishes (an etcd source reads the whole
  // prefix first, so its answer replaces the restored set).
  std::map<std::string, discovered_pool> sets() const;
  void restore(const std::string& pool, discovered_pool set);
  // Thread-safe: drops every set (start-up: restored sets the first snapshot cannot use).
  void forget_all();

 private:
  struct source;
  void publish(const std::string& pool, const std::string& kind,
               const discovery::discovered_set& set);

  boost::asio::io_context& control_;
  metrics& registry_;
  std::function<void()> changed_;
  std::map<std::string, std::unique_ptr<source>> sources_;  // control loop only
  mutable std::mutex mutex_;                                // guards pools_
  std::map<std::string, discovered_pool> pools_;
};

}  // namespace tally::proxy
