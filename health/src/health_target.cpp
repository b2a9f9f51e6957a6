#include "tally/health/health_target.hpp"

namespace tally::health {

std::vector<health_target> targets_for(
    const std::vector<std::unique_ptr<balancer::pool>>& pools,
    const std::vector<std::vector<boost::asio::ip::tcp::endpoint>>& endpoints,
    const std::vector<std::shared_ptr<const tls::client_tls>>& tls) {
  std::vector<health_target> out;
  for (std::size_t p = 0; p < pools.size() && p < endpoints.size(); ++p) {
    const balancer::pool& pool = *pools[p];
    if (!pool.config().health_check_configured) continue;
    const auto& backends = pool.backends();
    for (std::size_t b = 0; b < backends.size() && b < endpoints[p].size(); ++b) {
      const auto& configured = pool.config().backends;
      out.push_back({backends[b], endpoints[p][b], pool.name(), pool.config().health_check,
                     p < tls.size() ? tls[p] : nullptr,
                     b < configured.size() ? configured[b].address.host : std::string()});
    }
  }
  return out;
}

}  // namespace tally::health
