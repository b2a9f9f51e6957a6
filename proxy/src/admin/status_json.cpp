#include "admin/status_json.hpp"

#include <chrono>

#include <boost/json/array.hpp>

namespace tally::proxy {

namespace json = boost::json;

namespace {

json::value ejected_until(const balancer::backend& b) {
  if (!b.ejected()) return nullptr;
  // Convert the steady-clock deadline into wall-clock milliseconds for people to read.
  using namespace std::chrono;
  auto left = nanoseconds(b.ejected_until_ns()) - steady_clock::now().time_since_epoch();
  auto at = system_clock::now() + duration_cast<system_clock::duration>(left);
  return duration_cast<milliseconds>(at.time_since_epoch()).count();
}

json::object backend_status(const std::string& pool, const balancer::backend& b,
                            const cluster::cluster_node* cluster) {
  json::object o;
  o["address"] = b.address();
  o["weight"] = b.weight();
  o["configured_weight"] = b.configured_weight();
  o["drained"] = b.drained();
  o["local_health"] = b.local_up() ? "up" : "down";
  o["verdict"] = b.up() ? "up" : "down";
  o["votes"] = cluster ? cluster->backend_votes_json(pool, b.address()) : json::value(nullptr);
  o["eligible"] = b.eligible();
  o["active_requests"] = b.active_requests();
  o["ejected_until"] = ejected_until(b);
  return o;
}

json::object pool_status(const balancer::pool& p, const status_extras& extras) {
  json::object po;
  po["policy"] = config::to_string(p.config().policy);
  json::array backends;
  for (const auto& b : p.backends())
    backends.push_back(backend_status(p.name(), *b, extras.cluster));
  po["backends"] = std::move(backends);
  po["eligible_backends"] = p.eligible_count();
  // Where the backends come from: "static" (the file), "etcd" or "dns"; for the last two the
  // revision (etcd's; 0 for DNS) and Unix milliseconds of the last set applied, null until then.
  const auto& discovery = p.config().discovery;
  po["source"] = !discovery ? "static" : discovery->etcd ? "etcd" : "dns";
  if (const auto* found = extras.discovery.if_contains(p.name())) {
    po["discovery"] = *found;
  } else if (discovery) {
    po["discovery"] = json::object{{"revision", nullptr}, {"last_update", nullptr}};
  } else {
    po["discovery"] = nullptr;
  }
  return po;
}

json::array routes_status(const config::config& cfg) {
  json::array routes;
  for (const auto& r : cfg.routes) {
    json::object ro;
    ro["host"] = r.host.empty() ? json::value(nullptr) : json::value(r.host);
    ro["path_prefix"] = r.path_prefix;
    ro["pool"] = r.pool;
    routes.push_back(std::move(ro));
  }
  return routes;
}

json::array peers_status(const cluster::cluster_node& node) {
  json::array peers;
  for (const auto& peer : node.peers()) {
    json::object po;
    po["id"] = peer.id;
    po["address"] = peer.address;
    po["up"] = peer.up;
    po["last_seen_ms_ago"] =
        peer.since_heard ? json::value(peer.since_heard->count()) : json::value(nullptr);
    po["last_success_ms_ago"] =
        peer.since_success ? json::value(peer.since_success->count()) : json::value(nullptr);
    if (!peer.last_error.empty()) po["last_error"] = peer.last_error;
    peers.push_back(std::move(po));
  }
  return peers;
}

json::value checkpoint_status(const config::config& cfg, const status_extras& extras) {
  if (!cfg.checkpoint) return nullptr;
  json::object cp;
  cp["path"] = cfg.checkpoint->path;
  // Unix milliseconds of the last checkpoint written, null until the first one.
  cp["last_success"] = extras.checkpoint_last_success_ms > 0
                           ? json::value(extras.checkpoint_last_success_ms)
                           : json::value(nullptr);
  return cp;
}

}  // namespace

json::object build_status(const routing_snapshot& snap, const status_extras& extras) {
  const auto& cfg = *snap.cfg;
  json::object root;
  root["version"] = TALLY_VERSION;
  root["config_hash"] = cfg.content_hash;
  root["ready"] = extras.ready;
  root["node_id"] = cfg.cluster ? json::value(cfg.cluster->node_id) : json::value(nullptr);
  root["downstream_connections"] = extras.downstream_connections;
  root["active_requests"] = extras.active_requests;
  json::object pools;
  for (const auto& p : snap.pools)
    pools[p->name()] = pool_status(*p, extras);
  root["pools"] = std::move(pools);
  root["routes"] = routes_status(cfg);
  root["peers"] = extras.cluster ? peers_status(*extras.cluster) : json::array{};
  if (extras.cluster) root["cluster"] = extras.cluster->status_json();
  root["checkpoint"] = checkpoint_status(cfg, extras);
  return root;
}

}  // namespace tally::proxy
