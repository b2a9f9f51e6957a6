// The optional `cluster:` (peers that vote on backend health) and `checkpoint:` sections.
#include <algorithm>

#include "scalars.hpp"
#include "schema.hpp"

namespace tally::config::detail {
namespace {

constexpr duration largest_clock_offset{60'000};

// Ids and addresses already used in the cluster, with their 1-based lines, so a repeat can
// point at the first.
struct seen_value {
  std::string value;
  int line;
};

const seen_value* find_seen(const std::vector<seen_value>& seen, const std::string& value) {
  auto it =
      std::find_if(seen.begin(), seen.end(), [&](const seen_value& s) { return s.value == value; });
  return it == seen.end() ? nullptr : &*it;
}

struct peer_uniqueness {
  std::string node_id;
  std::vector<seen_value> ids;
  std::vector<seen_value> addresses;
};

void check_peer_id(const map_reader& peer, const std::string& id, peer_uniqueness& seen) {
  auto at = peer.value_mark("id");
  if (!seen.node_id.empty() && id == seen.node_id) {
    peer.diag().report(at, peer.field("id") + " " + quoted(id) +
                               " is this replica's own node_id; list only the other replicas");
  } else if (const auto* first = find_seen(seen.ids, id)) {
    peer.diag().report(at, "peer id " + quoted(id) + " is used twice (first at line " +
                               std::to_string(first->line) + "); give every peer its own id");
  } else {
    seen.ids.push_back({id, at.line + 1});
  }
}

void check_peer_address(const map_reader& peer, const host_port& address, peer_uniqueness& seen) {
  auto at = peer.value_mark("address");
  auto identity = address_identity(address);
  if (const auto* first = find_seen(seen.addresses, identity)) {
    peer.diag().report(at, "peer address " + quoted(address.text) +
                               " is listed twice (first at line " + std::to_string(first->line) +
                               "); each peer has its own admin listener");
  } else {
    seen.addresses.push_back({identity, at.line + 1});
  }
}

void read_peer(const map_reader& peer, peer_uniqueness& seen, peer_config& out) {
  if (!peer.is_map()) return;
  if (peer.require("id", "each peer needs id: (its node_id)") && peer.read_string("id", out.id))
    check_peer_id(peer, out.id, seen);
  if (peer.require("address", "each peer needs address: host:port of its admin listener") &&
      peer.read_address("address", out.address))
    check_peer_address(peer, out.address, seen);
}

void read_peers(const map_reader& cluster, peer_uniqueness& seen, std::vector<peer_config>& out) {
  auto list = cluster.list("peers", "[ { id: lb-2, address: 127.0.0.1:9902 } ]");
  if (!list) return;
  auto at = cluster.value_mark("peers");
  for (std::size_t i = 0; i < list->size(); ++i) {
    map_reader peer((*list)[i], at, cluster.field("peers") + "[" + std::to_string(i) + "]",
                    {"id", "address"}, cluster.diag());
    read_peer(peer, seen, out.emplace_back());
  }
}

}  // namespace

void read_cluster(const map_reader& top, std::optional<cluster_config>& out) {
  if (!top.has("cluster")) return;
  auto& cluster_out = out.emplace();
  map_reader cluster(top, "cluster",
                     {"node_id", "peers", "gossip_interval", "vote_ttl", "max_clock_offset"});
  if (!cluster.is_map()) return;

  peer_uniqueness seen;
  if (cluster.require("node_id", "add node_id: with this replica's id, like node_id: lb-1") &&
      cluster.read_string("node_id", cluster_out.node_id))
    seen.node_id = cluster_out.node_id;
  read_peers(cluster, seen, cluster_out.peers);

  bool gossip_ok = cluster.read_duration("gossip_interval", cluster_out.gossip_interval) ||
                   !cluster.has("gossip_interval");
  bool ttl_ok = cluster.read_duration("vote_ttl", cluster_out.vote_ttl) || !cluster.has("vote_ttl");
  duration offset = cluster_out.max_clock_offset;
  if (cluster.read_duration("max_clock_offset", offset)) {
    // The bound exists to stop a replica with a wrong clock; an hour would stop almost none.
    if (offset > largest_clock_offset)
      cluster.diag().report(cluster.value_mark("max_clock_offset"),
                            cluster.field("max_clock_offset") + " must be at most " +
                                format_duration(largest_clock_offset) + ", got " +
                                format_duration(offset) +
                                "; fix the replicas' clocks (NTP) instead of widening it");
    else
      cluster_out.max_clock_offset = offset;
  }
  if (gossip_ok && ttl_ok && cluster_out.vote_ttl <= cluster_out.gossip_interval) {
    auto at = cluster.has("vote_ttl") ? cluster.value_mark("vote_ttl")
                                      : cluster.value_mark("gossip_interval");
    cluster.diag().report(at, cluster.field("vote_ttl") + " (" +
                                  format_duration(cluster_out.vote_ttl) +
                                  ") must be longer than gossip_interval (" +
                                  format_duration(cluster_out.gossip_interval) +
                                  "), or votes would expire before the next gossip round "
                                  "refreshes them");
  }
}

void read_checkpoint(const map_reader& top, std::optional<checkpoint_config>& out) {
  if (!top.has("checkpoint")) return;
  auto& checkpoint_out = out.emplace();
  map_reader checkpoint(top, "checkpoint", {"path", "interval"});
  checkpoint.read_string("path", checkpoint_out.path);
  checkpoint.read_duration("interval", checkpoint_out.interval);
}

}  // namespace tally::config::detail
