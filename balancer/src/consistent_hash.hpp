// consistent_hash: Maglev hashing (Eisenbud et al., NSDI 2016; Envoy's maglev_lb.cc). A lookup
// table of a prime number of slots is filled by letting each backend claim slots in its own
// pseudo-random order, in turns proportional to its weight, so
//   - the same key always lands on the same backend, on every replica (the table depends only
//     on the addresses and weights, never on order of arrival or on a random seed);
//   - removing one of N backends moves about 1/N of the keys;
//   - a key whose backend is not eligible walks on through the table, whose neighbouring slots
//     belong to scattered backends, so that backend's keys spread over the others while every
//     other key stays put.
#pragma once

#include <cstdint>
#include <vector>

#include "selection.hpp"
#include "tally/balancer/policy.hpp"

namespace tally::balancer {

// Thread safety: the table is immutable after construction; pick() only reads it and the
// backends' atomics.
class consistent_hash final : public policy {
 public:
  // 65537 (prime) keeps the table at 128 KiB while staying >= 100 slots per backend, Maglev's
  // guideline for an even spread, up to 655 backends.
  static constexpr std::uint32_t table_size = 65537;

  // Only backends whose weight() > 0 now get slots: a backend with weight 0 at build time
  // receives no keys until the pool is rebuilt (reload), even if its weight is raised later.
  explicit consistent_hash(const backend_list& backends);

  int pick(const pick_context& ctx) override;

  // Slot -> index into the backend list; for tests and /status.
  std::uint16_t slot_owner(std::uint32_t slot) const noexcept { return table_[slot]; }

 private:
  static constexpr std::uint16_t no_backend = 0xffff;

  int walk(std::uint32_t slot, const tried_set& already, bool accept_tried) const noexcept;

  backend_list backends_;
  std::vector<std::uint16_t> table_;  // empty when no backend had weight > 0
  std::vector<bool> in_table_;        // per backend: owns at least one slot
};

}  // namespace tally::balancer
