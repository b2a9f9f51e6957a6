// The cluster section the cluster_node tests share: three nodes, this one "a".
#pragma once

#include <chrono>

#include "tally/config/config.hpp"

namespace tally::cluster::test {

inline config::cluster_config three_node_config() {
  using namespace std::chrono_literals;
  config::cluster_config c;
  c.node_id = "a";
  // Never contacted: these tests do not start the node or run the io_context.
  c.peers = {{"b", {"127.0.0.1", 1, "127.0.0.1:1"}}, {"c", {"127.0.0.1", 2, "127.0.0.1:2"}}};
  c.gossip_interval = 50ms;
  c.vote_ttl = 300ms;
  return c;  // max_clock_offset: the default, 500 ms
}

}  // namespace tally::cluster::test
