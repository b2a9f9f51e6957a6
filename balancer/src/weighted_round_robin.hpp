// weighted_round_robin: nginx's smooth weighted round robin (ngx_http_upstream_get_peer), which
// spreads a heavy backend's turns through the period (5,1,1 gives a a b a c a a, not a a a a a b
// c).
#pragma once

#include <cstdint>
#include <vector>

#include "selection.hpp"
#include "tally/balancer/policy.hpp"

namespace tally::balancer {

// Thread safety: each worker index owns its own SWRR state, so pick() takes no lock and touches
// no shared line; two threads must never call pick() with the same ctx.worker at once. Each
// worker's sequence is the exact SWRR sequence, so the pool-wide mix is exact within
// (workers x period) picks.
class weighted_round_robin final : public policy {
 public:
  weighted_round_robin(const backend_list& backends, unsigned workers);

  int pick(const pick_context& ctx) override;

 private:
  struct slot {
    std::int64_t current = 0;  // SWRR current_weight
    std::uint32_t seen = 0;    // effective weight at the last pick (0 = not eligible)
  };
  static constexpr std::size_t slots_per_line = detail::cache_line / sizeof(slot);
  struct alignas(detail::cache_line) line {
    slot slots[slots_per_line];
  };

  slot& at(std::size_t first_line, std::size_t i) noexcept {
    return lines_[first_line + i / slots_per_line].slots[i % slots_per_line];
  }
  int run_round(std::size_t first_line, const tried_set& already, bool observe,
                bool& changed) noexcept;

  backend_list backends_;
  unsigned workers_;
  std::size_t lines_per_worker_;
  // Worker w's slots start at line w * lines_per_worker_: one flat, line-aligned block, so no
  // two workers' slots share a cache line.
  std::vector<line> lines_;
};

}  // namespace tally::balancer
