// The replicated admin mutations (drain, enable, weight). Each is a record stamped with the HLC of
// the replica that made it; per (pool, backend, field) the record with the largest stamp wins.
// Every gossip message carries the whole current set (one record per field per backend, so it is
// small), which makes the set a state-based CRDT: a replica that missed a message converges on
// the next one, and the order messages arrive in never changes the result.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "tally/cluster/common.hpp"
#include "tally/cluster/hlc.hpp"

namespace tally::cluster {

enum class change_field { drained, weight };

struct admin_change {
  backend_key key;
  change_field field = change_field::drained;
  std::uint32_t value = 0;  // drained: 0 or 1; weight: the weight
  hlc_timestamp stamp;      // stamp.node is the replica the change originated on

  bool operator==(const admin_change&) const = default;
};

// The admin API's range for a weight (and the config's): a peer may not set more.
inline constexpr std::uint32_t max_admin_weight = 1000;

// {"pool","backend","field":"drained"|"weight","value":<bool|uint>,"hlc":{...}}
// Decoding refuses a weight above max_admin_weight and an empty origin node.
boost::json::value to_json(const admin_change& c);
std::optional<admin_change> admin_change_from_json(const boost::json::value& v,
                                                   std::size_t max_string_bytes);

// Not thread-safe: the owner (cluster_node) serialises calls. Applying a winning record to the
// backend atomics is the owner's job (it knows the backend objects).
class admin_change_set {
 public:
  explicit admin_change_set(hybrid_clock& clock) : clock_(clock) {}

  // A mutation made on this replica: stamped with clock.now(), so it wins over everything this
  // replica has seen. Returns the record (the caller applies it).
  admin_change local_change(backend_key key, change_field field, std::uint32_t value);

  // Records received from a peer: advances the clock past each stamp and keeps those newer than
  // what is held. Returns the records that won (the caller applies them). Records stamped
  // further ahead than the clock's max_offset are refused (neither kept nor adopted by the
  // clock) and counted in refused_ahead(): kept, one would win against every later change.
  std::vector<admin_change> merge(const std::vector<admin_change>& remote);
  std::uint64_t refused_ahead() const noexcept { return refused_ahead_; }

  // Keeps only records for backends in `keys` (after a reload), so the set stays bounded.
  void retain(const std::vector<backend_key>& keys);

  std::vector<admin_change> all() const;
  std::vector<admin_change> for_backend(const backend_key& key) const;

 private:
  using slot = std::pair<backend_key, change_field>;
  bool offer(const admin_change& c);

  hybrid_clock& clock_;
  std::map<slot, admin_change> records_;
  std::uint64_t refused_ahead_ = 0;
};

}  // namespace tally::cluster
