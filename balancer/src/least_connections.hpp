// least_connections: the eligible backend with the fewest requests in flight per unit of weight.
#pragma once

#include <atomic>

#include "selection.hpp"
#include "tally/balancer/policy.hpp"

namespace tally::balancer {

// Thread safety: reads the backends' atomic counters; the only shared state it writes is the
// relaxed rotation counter that breaks ties.
class least_connections final : public policy {
 public:
  explicit least_connections(const backend_list& backends);

  int pick(const pick_context& ctx) override;

 private:
  backend_list backends_;
  alignas(detail::cache_line) std::atomic<std::uint64_t> next_{0};
};

}  // namespace tally::balancer
