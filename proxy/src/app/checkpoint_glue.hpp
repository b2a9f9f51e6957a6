// Between the routing table and the checkpoint file (cluster/checkpoint_*): what to save, how
// a restored file is applied, and fetching a peer's table when a replica has no file.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "app/discovery_glue.hpp"
#include "tally/cluster/checkpoint_restore.hpp"
#include "tally/cluster/checkpoint_state.hpp"
#include "tally/cluster/cluster_node.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

cluster::checkpoint_config_table checkpoint_table_for(const routing_snapshot& snap);

// Builds the state to save from the live routing table and the discovered sets. Thread-safe (the
// checkpoint writer calls it on its own thread); it remembers when each verdict last changed,
// for since-times.
class checkpoint_source {
 public:
  checkpoint_source(const snapshot_holder& snapshots, const cluster::cluster_node& cluster,
                    const discovery_sources& discovery)
      : snapshots_(snapshots), cluster_(cluster), discovery_(discovery) {}
  cluster::checkpoint_state state();
  // Since-times carried over from a restored file.
  void remember_since(const std::string& pool, const std::string& address, bool up,
                      std::int64_t since_ms);

 private:
  const snapshot_holder& snapshots_;
  const cluster::cluster_node& cluster_;
  const discovery_sources& discovery_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::pair<bool, std::int64_t>> since_;
};

// Hands the discovered sets of a restored file to `discovery`, for the pools of `cfg` whose
// discovery source is of the same kind, before the first routing snapshot is built: they serve
// until the source answers. Returns how many pools got one.
std::size_t restore_discovered(const cluster::checkpoint_state& saved, const config::config& cfg,
                               discovery_sources& discovery);

// Applies a restored file: drain, weight, verdict per backend still configured, and the admin
// changes' clocks so the newest write still wins across the cluster. Returns how many applied.
std::size_t apply_checkpoint(const cluster::checkpoint_restore_result& restored,
                             const routing_snapshot& snap, cluster::cluster_node& cluster,
                             checkpoint_source& source);

// GET /cluster/checkpoint from each peer in turn (blocking, a few seconds at most: start-up
// only); the body of the first that answers 200.
std::optional<std::string> fetch_peer_checkpoint(const config::cluster_config& cluster,
                                                 const std::string& token, std::string& errors);

}  // namespace tally::proxy
