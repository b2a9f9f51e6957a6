// What each admin endpoint answers (SPEC "Admin API").
#pragma once

#include <functional>
#include <optional>

#include "admin/admin_server.hpp"
#include "tally/cluster/cluster_node.hpp"
#include "tally/proxy/metrics.hpp"
#include "tally/proxy/proxy_server.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

class admin_routes {
 public:
  struct context {
    snapshot_holder& snapshots;
    proxy_server& proxy;
    metrics& registry;
    cluster::cluster_node& cluster;
    std::function<bool()> ready;
    std::function<void()> state_changed;                       // an admin change to checkpoint
    std::function<std::string()> checkpoint_bytes;             // GET /cluster/checkpoint
    std::function<std::int64_t()> checkpoint_last_success_ms;  // 0: never written
    // Re-reads the config off the control loop; returns the errors as text, empty on success.
    std::function<net::awaitable<std::string>()> reload;
    // {pool: {source, revision, last_update, backends}} of the pools discovery has filled.
    std::function<boost::json::object()> discovery_status;
  };

  explicit admin_routes(context ctx) : ctx_(std::move(ctx)) {}
  net::awaitable<admin_response> handle(const admin_request& req);
  // Decided from the header alone, before any body is read: a 401 for a request that needs the
  // token and lacks it, or nullopt.
  std::optional<admin_response> refuse_early(const admin_request& header) const;

 private:
  bool authorized(const admin_request& req) const;
  admin_response backend_mutation(const admin_request& req, std::string_view path);
  context ctx_;
};

}  // namespace tally::proxy
