// The interface every balancing policy implements. A policy is built for one fixed list of
// backends (a pool inside one routing snapshot) and must be safe to call from every worker
// thread at once without a shared lock: state is atomics or per-worker.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tally/balancer/backend.hpp"
#include "tally/config/config.hpp"

namespace tally::balancer {

struct pick_context {
  unsigned worker = 0;       // index of the calling worker thread, < workers given at build
  std::uint64_t hash = 0;    // consistent_hash key, already hashed (see hash_key() in hash.hpp)
  std::uint64_t random = 0;  // a random value the caller drew (random_two); 0 = policy draws
  // Backends already tried by this request (bit i = backends[i]); a retry prefers others.
  std::uint64_t tried_mask = 0;
};

class policy {
 public:
  virtual ~policy() = default;
  // Returns an index into the pool's backends, or -1 when no backend is eligible.
  virtual int pick(const pick_context& ctx) = 0;
};

using backend_list = std::vector<std::shared_ptr<backend>>;

// Builds the policy a pool config names, for `backends` and `workers` worker threads. The policy
// keeps its own copy of the list (shared ownership of the same backend objects), so it never
// depends on where the caller's list lives: moving a pool is safe.
std::unique_ptr<policy> make_policy(const config::pool_config& cfg, const backend_list& backends,
                                    unsigned workers);

}  // namespace tally::balancer
