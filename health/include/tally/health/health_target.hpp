// What the health checker probes: one backend object, where to connect, and its pool's check
// settings. A plain list keeps health/ independent of proxy/'s routing snapshot (proxy links
// health, not the other way round).
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tally/balancer/pool.hpp"
#include "tally/config/config.hpp"
#include "tally/tls/client_tls.hpp"

namespace tally::health {

struct health_target {
  // The live backend shared with the routing snapshots; its identity (the pointer) is what
  // carries a target's rise/fall state across reloads.
  std::shared_ptr<balancer::backend> backend;
  boost::asio::ip::tcp::endpoint endpoint;
  std::string pool;
  config::health_check_config cfg;
  // The pool's TLS to its backends (null: plain HTTP) and the backend's configured host, for
  // SNI and the name its certificate must show: a check speaks to a backend as requests do.
  std::shared_ptr<const tls::client_tls> tls;
  std::string host;
};

// One target per backend of every pool whose config has a health_check section; pools without
// one are not checked and their backends stay up (SPEC). `endpoints[p][b]` is where backend b of
// pool p is reached (routing_snapshot::endpoints has this shape); `tls[p]`, when present, is pool
// p's TLS (routing_snapshot::upstream_tls).
std::vector<health_target> targets_for(
    const std::vector<std::unique_ptr<balancer::pool>>& pools,
    const std::vector<std::vector<boost::asio::ip::tcp::endpoint>>& endpoints,
    const std::vector<std::shared_ptr<const tls::client_tls>>& tls = {});

}  // namespace tally::health
