// A named set of backends and the policy that picks among them; part of an immutable routing
// snapshot. The backend objects themselves are shared with older and newer snapshots.
#pragma once

#include <memory>
#include <string>

#include "tally/balancer/policy.hpp"

namespace tally::balancer {

class pool {
 public:
  pool(const config::pool_config& cfg, backend_list backends, unsigned workers);

  const std::string& name() const noexcept { return cfg_.name; }
  const config::pool_config& config() const noexcept { return cfg_; }
  const backend_list& backends() const noexcept { return backends_; }

  // Index of the chosen backend or -1 when none is eligible.
  int pick(const pick_context& ctx) const { return policy_->pick(ctx); }
  std::size_t eligible_count() const noexcept;

 private:
  config::pool_config cfg_;
  backend_list backends_;
  std::unique_ptr<policy> policy_;
};

}  // namespace tally::balancer
