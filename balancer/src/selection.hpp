// Helpers shared by the policies (private to tally_balancer): the retry candidates, per-worker
// slots padded to a cache line, and a tiny deterministic random generator.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tally/balancer/backend.hpp"
#include "tally/balancer/hash.hpp"
#include "tally/balancer/policy.hpp"

namespace tally::balancer::detail {

// Destructive interference size, spelled out: GCC warns that the std:: constant may vary
// between compilation units, and every x86-64/ARM64 target we build for uses 64.
inline constexpr std::size_t cache_line = 64;

// How much a pick prefers a backend, best first: not yet tried by this request and with a free
// slot (below max_connections, nobody queued); untried but full (the request would queue);
// tried with room; tried and full. A retry goes elsewhere before it goes where there is room.
inline int preference_tier(const backend& b, bool tried) noexcept {
  return (tried ? 2 : 0) + (b.has_room() ? 0 : 1);
}

// Which backends a pick chooses among: the eligible ones of the best preference tier present.
// Counting first lets a policy index its candidates directly (no rejection loop, no bias toward
// the neighbour of a down backend).
struct candidate_set {
  std::size_t count = 0;
  int tier = 0;

  template <class Backends>
  static candidate_set of(const Backends& backends, const tried_set& already) noexcept {
    std::size_t counts[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < backends.size(); ++i) {
      if (!backends[i]->eligible()) continue;
      ++counts[preference_tier(*backends[i], already.contains(i))];
    }
    for (int t = 0; t < 4; ++t)
      if (counts[t]) return candidate_set{counts[t], t};
    return candidate_set{};
  }
  template <class Backends>
  bool contains(const Backends& backends, const tried_set& already, std::size_t i) const noexcept {
    return backends[i]->eligible() && preference_tier(*backends[i], already.contains(i)) == tier;
  }
};

// One worker's value alone on its cache line, so workers never write to a shared line.
template <class T>
struct alignas(cache_line) per_worker {
  T value{};
};

// SplitMix64 (Steele, Lea, Flood 2014): one add and a mix per draw, good enough to pick two
// backends and trivially seeded, so tests replay exact draws.
struct splitmix64 {
  std::uint64_t state = 0;
  std::uint64_t next() noexcept {
    state += 0x9e3779b97f4a7c15ULL;
    return mix64(state);
  }
};

// Load of a backend as least_connections and random_two compare it: requests in flight plus
// requests queued for it (max_connections), per unit of weight. Compared by cross-multiplication
// (a.active * b.weight < b.active * a.weight) so there is no division and weights keep their
// integer meaning.
struct load {
  std::uint64_t active;
  std::uint64_t weight;

  static load of(const backend& b) noexcept {
    auto a = b.active_requests() + b.queued_requests();
    // A transiently negative count (end before begin on another thread) reads as idle.
    return {a < 0 ? 0u : static_cast<std::uint64_t>(a), b.weight()};
  }
  // Active counts stay far below 2^32, so the products cannot overflow 64 bits.
  bool lighter_than(const load& o) const noexcept { return active * o.weight < o.active * weight; }
};

}  // namespace tally::balancer::detail
