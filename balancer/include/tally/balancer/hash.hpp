// Stable 64-bit hashing for consistent_hash: the proxy turns a request's hash key (client IP,
// a header, a cookie) into pick_context::hash with hash_key(), and Maglev hashes backend
// addresses with hash_bytes(). Both are deterministic across runs, builds and replicas, so every
// replica of a cluster sends the same key to the same backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "tally/config/config.hpp"

namespace tally::balancer {

// Final avalanche of MurmurHash3 (fmix64): every input bit flips each output bit with p ~ 1/2.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// FNV-1a 64 over the bytes, then mix64: FNV alone leaves the low bits of near-identical inputs
// ("10.0.0.1:80" vs "10.0.0.2:80") correlated, and Maglev reduces modulo a prime.
std::uint64_t hash_bytes(std::string_view bytes) noexcept;
// Same, from another starting point: independent hashes of one input (Maglev needs two).
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) noexcept;

// The value of cookie `name` in a Cookie header value ("a=1; b=2"), or nullopt when absent.
std::optional<std::string_view> find_cookie(std::string_view cookie_header,
                                            std::string_view name) noexcept;

// What the proxy knows about a request that a hash_key may name. `header_value` is the value of
// the header the pool's hash_key names (nullopt when the request lacks it); `cookie_header` is
// the request's whole Cookie header (nullopt when absent).
struct hash_source {
  std::string_view client_ip;
  std::optional<std::string_view> header_value;
  std::optional<std::string_view> cookie_header;
};

// pick_context::hash for a request. When the named header or cookie is missing the client IP is
// hashed instead, so such clients still stick to one backend rather than scattering.
std::uint64_t hash_key(const config::hash_key_config& cfg, const hash_source& src) noexcept;

}  // namespace tally::balancer
