#include "tally/proxy/routing_snapshot.hpp"

#include <stdexcept>

#include "routing/resolve_address.hpp"

namespace tally::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;

const balancer::pool* routing_snapshot::find_pool(std::string_view name) const noexcept {
  for (const auto& p : pools)
    if (p->name() == name) return p.get();
  return nullptr;
}

namespace {

tcp::endpoint resolve(const config::host_port& hp, const std::string& pool) {
  boost::system::error_code ec;
  auto ep = resolve_address(hp, ec);
  if (ec)
    throw std::runtime_error("pool \"" + pool + "\": cannot resolve backend " + hp.text + ": " +
                             ec.message() + "; fix the name or use an IP address");
  return ep;
}

std::shared_ptr<balancer::backend> carried_over(const routing_snapshot* previous,
                                                const std::string& pool,
                                                const config::backend_config& b) {
  if (!previous) return nullptr;
  const auto* old_pool = previous->find_pool(pool);
  if (!old_pool) return nullptr;
  for (const auto& be : old_pool->backends())
    if (be->address() == b.address.text && be->configured_weight() == b.weight) return be;
  return nullptr;
}

}  // namespace

std::shared_ptr<const routing_snapshot> build_snapshot(std::shared_ptr<const config::config> cfg,
                                                       const routing_snapshot* previous,
                                                       unsigned workers, metrics* registry) {
  auto snap = std::make_shared<routing_snapshot>();
  for (const auto& pc : cfg->pools) {
    balancer::backend_list backends;
    std::vector<tcp::endpoint> endpoints;
    for (const auto& bc : pc.backends) {
      auto be = carried_over(previous, pc.name, bc);
      if (!be) be = std::make_shared<balancer::backend>(bc.address.text, bc.weight);
      backends.push_back(std::move(be));
      endpoints.push_back(resolve(bc.address, pc.name));
    }
    snap->pools.push_back(std::make_unique<balancer::pool>(pc, std::move(backends), workers));
    snap->endpoints.push_back(std::move(endpoints));
  }
  snap->routes = route_table(cfg->routes);
  if (registry) {
    std::vector<pool_binding> bindings;
    for (const auto& pc : cfg->pools) {
      pool_binding b{pc.name, {}};
      for (const auto& bc : pc.backends)
        b.backends.push_back(bc.address.text);
      bindings.push_back(std::move(b));
    }
    snap->metrics = registry->bind(bindings);
  }
  snap->cfg = std::move(cfg);
  return snap;
}

void apply_backend_limits(const routing_snapshot& snap) {
  for (const auto& pool : snap.pools) {
    const auto& cfg = pool->config();
    for (const auto& b : pool->backends())
      b->slots().set_limits(cfg.max_connections, cfg.queue.max);
  }
}

}  // namespace tally::proxy
