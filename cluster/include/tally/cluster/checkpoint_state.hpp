// What a checkpoint file holds: the routing table as this replica last knew it. Plain values only,
// so the checkpoint code depends on nothing else in cluster/ and the caller fills it from whatever
// snapshot it publishes (names carry a checkpoint_ prefix so they never collide with hlc.hpp etc.).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tally::cluster {

inline constexpr std::int64_t checkpoint_format_version = 1;

// The ranges a checkpoint's values must fall in: the same as the config and the admin API allow
// (a weight), and what fits the types the rest of tally uses (an HLC millisecond is an int64,
// a name is as long as a peer message may carry). A file or a peer's body claiming more is
// damaged or hostile, never restored.
inline constexpr std::uint32_t checkpoint_max_weight = 1000;
inline constexpr std::size_t checkpoint_max_string_bytes = 512;

// A hybrid logical clock reading: wall milliseconds plus a counter for events in the same ms.
struct checkpoint_hlc {
  std::uint64_t physical_ms = 0;
  std::uint32_t logical = 0;

  friend bool operator==(const checkpoint_hlc&, const checkpoint_hlc&) = default;
};

// The HLC of the last admin change (drain, enable, weight) and the node that made it; the newest
// one wins on every replica, so it must survive a restart to keep winning.
struct checkpoint_admin_stamp {
  std::uint64_t physical_ms = 0;
  std::uint32_t logical = 0;
  std::string node;

  friend bool operator==(const checkpoint_admin_stamp&, const checkpoint_admin_stamp&) = default;
};

struct checkpoint_backend {
  std::string address;       // "host:port" exactly as the config spells it; the matching key
  std::uint32_t weight = 1;  // effective weight (config value or admin override)
  bool drained = false;
  bool verdict_up = true;             // cluster verdict
  std::int64_t verdict_since_ms = 0;  // wall clock (Unix ms) of the last verdict change
  std::optional<checkpoint_admin_stamp> admin_hlc;  // absent: never changed by an admin

  friend bool operator==(const checkpoint_backend&, const checkpoint_backend&) = default;
};

// A backend a discovery source found: what the source said, before any admin change (those are
// in the pool's `backends`, matched by address like a configured backend's).
struct checkpoint_discovered_backend {
  std::string address;       // "host:port" as the source spelled it; a port from 1 to 65535
  std::uint32_t weight = 1;  // 0..checkpoint_max_weight

  friend bool operator==(const checkpoint_discovered_backend&,
                         const checkpoint_discovered_backend&) = default;
};

// The set a pool's discovery source last published, so a replica restarted while the source is
// unreachable still serves it; the source's next answer replaces it.
struct checkpoint_discovery {
  std::string source;         // "etcd" or "dns"
  std::int64_t revision = 0;  // etcd's store revision of the set; 0 for DNS
  std::vector<checkpoint_discovered_backend> backends;  // one per address

  friend bool operator==(const checkpoint_discovery&, const checkpoint_discovery&) = default;
};

struct checkpoint_pool {
  std::string name;
  std::vector<checkpoint_backend> backends;
  std::optional<checkpoint_discovery> discovery;  // absent: the pool has no discovered set

  friend bool operator==(const checkpoint_pool&, const checkpoint_pool&) = default;
};

struct checkpoint_state {
  std::int64_t format_version = checkpoint_format_version;
  std::string node_id;
  std::string config_hash;  // of the config that was running; informational on restore
  checkpoint_hlc hlc;       // the node's clock when written: a restart must not go below it
  std::vector<checkpoint_pool> pools;
  std::int64_t written_at_ms = 0;  // wall clock (Unix ms); the writer stamps it

  friend bool operator==(const checkpoint_state&, const checkpoint_state&) = default;
};

}  // namespace tally::cluster
