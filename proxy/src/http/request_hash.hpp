// consistent_hash's key for one request, from the pool's hash_key setting.
#pragma once

#include <cstdint>
#include <string_view>

#include "http/net_types.hpp"
#include "tally/balancer/hash.hpp"

namespace tally::proxy {

inline std::uint64_t request_hash(const config::hash_key_config& cfg, const proxy_fields& req,
                                  std::string_view client_ip) {
  balancer::hash_source src{client_ip, std::nullopt, std::nullopt};
  using source = config::hash_key_config::source;
  if (cfg.from == source::header) {
    if (auto it = req.find(cfg.name); it != req.end()) src.header_value = it->value();
  } else if (cfg.from == source::cookie) {
    if (auto it = req.find(http::field::cookie); it != req.end()) src.cookie_header = it->value();
  }
  return balancer::hash_key(cfg, src);
}

}  // namespace tally::proxy
