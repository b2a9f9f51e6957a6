// round_robin: every eligible backend in turn, whatever its weight.
#pragma once

#include <atomic>

#include "selection.hpp"
#include "tally/balancer/policy.hpp"

namespace tally::balancer {

// Thread safety: pick() may run on every worker at once; the only shared state is one relaxed
// counter, which orders nothing but the rotation.
class round_robin final : public policy {
 public:
  explicit round_robin(const backend_list& backends);

  int pick(const pick_context& ctx) override;

 private:
  backend_list backends_;
  alignas(detail::cache_line) std::atomic<std::uint64_t> next_{0};
};

}  // namespace tally::balancer
