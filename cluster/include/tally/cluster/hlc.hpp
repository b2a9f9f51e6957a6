// A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks"): a timestamp is the largest
// wall-clock millisecond this node has seen (its own or a peer's) plus a counter for events within
// that millisecond, and the node id breaks the remaining ties. Admin changes are ordered by it,
// so "newest wins" means the same thing on every replica even when their clocks disagree a bit.
//
// A stamp from elsewhere is a claim, not a fact: one that is further ahead of this node's wall
// clock than `max_offset` is refused instead of adopted (CockroachDB bounds it the same way, with
// the same 500ms default). Without the bound one peer whose clock ran a year ahead, or one forged
// stamp at INT64_MAX, would pin every later change below it, on every replica, across restarts.
#pragma once

#include <chrono>
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

// The default of `cluster.max_clock_offset`.
inline constexpr std::chrono::milliseconds default_max_clock_offset{500};

// Not thread-safe: the owner (cluster_node) serialises calls.
class hybrid_clock {
 public:
  explicit hybrid_clock(std::string node, system_ms_fn physical = default_system_ms,
                        std::chrono::milliseconds max_offset = default_max_clock_offset);

  // Stamp for a local event (an admin change, a message sent).
  hlc_timestamp now();
  // Advance past a stamp received from a peer; returns the new local stamp. A stamp that
  // within_offset() refuses is not adopted: the clock ticks as for a local event instead, so a
  // caller that forgets to check first still cannot be dragged into the future.
  hlc_timestamp update(const hlc_timestamp& remote);
  // False when `remote` is more than max_offset ahead of this node's wall clock right now.
  bool within_offset(const hlc_timestamp& remote) const;
  // How far `remote` is ahead of this node's wall clock (0 when it is not ahead), for messages.
  std::chrono::milliseconds ahead_by(const hlc_timestamp& remote) const;
  // The last stamp issued or adopted, without advancing.
  hlc_timestamp current() const { return {physical_ms_, logical_, node_}; }
  std::chrono::milliseconds max_offset() const noexcept { return max_offset_; }

 private:
  // Moves to (ms, logical); a counter past UINT32_MAX carries into the next millisecond, so the
  // order stays strict without wrapping to 0 (which would sort before older stamps).
  void set(std::int64_t ms, std::uint64_t logical);

  std::string node_;
  system_ms_fn physical_;
  std::chrono::milliseconds max_offset_;
  std::int64_t physical_ms_ = 0;
  std::uint32_t logical_ = 0;
};

}  // namespace tally::cluster
