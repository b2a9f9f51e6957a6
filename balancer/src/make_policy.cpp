#include "consistent_hash.hpp"
#include "least_connections.hpp"
#include "random_two.hpp"
#include "round_robin.hpp"
#include "tally/balancer/hash.hpp"
#include "tally/balancer/policy.hpp"
#include "weighted_round_robin.hpp"

namespace tally::balancer {

std::unique_ptr<policy> make_policy(const config::pool_config& cfg, const backend_list& backends,
                                    unsigned workers) {
  using config::policy_kind;
  switch (cfg.policy) {
    case policy_kind::round_robin:
      return std::make_unique<round_robin>(backends);
    case policy_kind::weighted_round_robin:
      return std::make_unique<weighted_round_robin>(backends, workers);
    case policy_kind::least_connections:
      return std::make_unique<least_connections>(backends);
    case policy_kind::random_two:
      // Seeded from the pool name: deterministic runs, yet pools do not draw in lockstep.
      return std::make_unique<random_two>(backends, workers, hash_bytes(cfg.name));
    case policy_kind::consistent_hash:
      return std::make_unique<consistent_hash>(backends);
  }
  return std::make_unique<round_robin>(backends);
}

}  // namespace tally::balancer
