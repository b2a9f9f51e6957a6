// A backend found by service discovery, and the parser of the value an etcd key holds for one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tally/config/config.hpp"

namespace tally::discovery {

struct discovered_backend {
  config::host_port address;
  std::uint32_t weight = 1;
  std::string key;  // the etcd key that holds it; empty for DNS
};

// The value of one etcd key: {"address": "10.0.0.5:8000", "weight": 2}; weight is optional
// (default 1, at most 1000 as in the config). On failure returns nullopt and says why in
// `problem`, in words an operator can act on.
std::optional<discovered_backend> parse_backend_value(std::string_view json, std::string& problem);

// The set a source publishes: one backend per address (the first key wins over duplicates).
struct discovered_set {
  std::vector<discovered_backend> backends;
  std::int64_t revision = 0;  // etcd's store revision; 0 for DNS
};

}  // namespace tally::discovery
