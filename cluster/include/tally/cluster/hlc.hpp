// A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks"): a timestamp is the largest
// wall-clock millisecond this node has seen (its own or a peer's) plus a counter for events within
// that millisecond, and the node id breaks the remaining ties. Admin changes are ordered by it,
// so "newest wins" means the same thing on every replica even when their clocks disagree a bit.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/value.hpp>

#include "tally/cluster/common.hpp"

namespace tally::cluster {

struct hlc_timestamp {
  std::int64_t physical_ms = 0;
  std::uint32_t logical = 0;
  std::string node;  // tie-break: two nodes never produce the same stamp

  // Total order: physical, then logical, then node id.
  auto operator<=>(const hlc_timestamp&) const = default;
};

// {"ms": <int>, "c": <int>, "node": <string>}
boost::json::value to_json(const hlc_timestamp& t);
// Strict: every field present with the right type and range; nullopt otherwise.
std::optional<hlc_timestamp> hlc_from_json(const boost::json::value& v);

// Not thread-safe: the owner (cluster_node) serialises calls.
class hybrid_clock {
 public:
  explicit hybrid_clock(std::string node, system_ms_fn physical = default_system_ms);

  // Stamp for a local event (an admin change, a message sent).
  hlc_timestamp now();
  // Advance past a stamp received from a peer; returns the new local stamp.
  hlc_timestamp update(const hlc_timestamp& remote);
  // The last stamp issued or adopted, without advancing.
  hlc_timestamp current() const { return {physical_ms_, logical_, node_}; }

 private:
  std::string node_;
  system_ms_fn physical_;
  std::int64_t physical_ms_ = 0;
  std::uint32_t logical_ = 0;
};

}  // namespace tally::cluster
