// GET /status: what an operator needs to see of one replica, as JSON (SPEC "Admin API").
#pragma once

#include <boost/json/object.hpp>

#include "tally/cluster/cluster_node.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

struct status_extras {
  bool ready = true;
  std::int64_t downstream_connections = 0;
  std::int64_t active_requests = 0;
  const cluster::cluster_node* cluster = nullptr;
  std::int64_t checkpoint_last_success_ms = 0;  // Unix time of the last good write; 0: never
  boost::json::object discovery;                // {pool: {source, revision, last_update, backends}}
};

boost::json::object build_status(const routing_snapshot& snap, const status_extras& extras);

}  // namespace tally::proxy
