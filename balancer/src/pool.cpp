#include "tally/balancer/pool.hpp"

namespace tally::balancer {

pool::pool(const config::pool_config& cfg, backend_list backends, unsigned workers)
    : cfg_(cfg), backends_(std::move(backends)), policy_(make_policy(cfg_, backends_, workers)) {}

std::size_t pool::eligible_count() const noexcept {
  std::size_t n = 0;
  for (const auto& b : backends_)
    n += b->eligible() ? 1 : 0;
  return n;
}

}  // namespace tally::balancer
