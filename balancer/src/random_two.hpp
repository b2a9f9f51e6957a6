// random_two: the power of two random choices (Mitzenmacher): draw two distinct eligible
// backends at random and send to the less loaded. Nearly as balanced as least_connections
// without every worker herding onto the same momentarily idle backend.
#pragma once

#include <cstdint>
#include <vector>

#include "selection.hpp"
#include "tally/balancer/policy.hpp"

namespace tally::balancer {

// Thread safety: randomness is ctx.random when the caller drew one, else the calling worker's
// own generator (never shared); two threads must not pick with the same ctx.worker at once.
class random_two final : public policy {
 public:
  // Worker w's generator starts from a state derived from (seed, w): runs replay exactly.
  random_two(const backend_list& backends, unsigned workers, std::uint64_t seed);

  int pick(const pick_context& ctx) override;

 private:
  std::uint64_t draw(const pick_context& ctx) noexcept;

  backend_list backends_;
  std::vector<detail::per_worker<detail::splitmix64>> random_;
};

}  // namespace tally::balancer
