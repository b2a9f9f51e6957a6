#include "tally/proxy/routing_snapshot.hpp"

#include <algorithm>
#include <stdexcept>

#include "routing/resolve_address.hpp"
#include "tally/tls/client_tls.hpp"
#include "tally/tls/server_tls.hpp"

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

bool same_certificate(const config::tls_certificate_config& a,
                      const config::tls_certificate_config& b) {
  return a.cert_pem == b.cert_pem && a.key_pem == b.key_pem && a.names == b.names;
}

bool same_tls(const config::listener_tls_config& a, const config::listener_tls_config& b) {
  return a.min_version == b.min_version && a.alpn == b.alpn &&
         std::equal(a.certificates.begin(), a.certificates.end(), b.certificates.begin(),
                    b.certificates.end(), same_certificate);
}

bool same_tls(const config::upstream_tls_config& a, const config::upstream_tls_config& b) {
  return a.verify == b.verify && a.ca_pem == b.ca_pem && a.sni == b.sni &&
         a.min_version == b.min_version &&
         a.client_certificate.has_value() == b.client_certificate.has_value() &&
         (!a.client_certificate || same_certificate(*a.client_certificate, *b.client_certificate));
}

// The listener's TLS from `previous` when its settings are unchanged (a reload that did not
// touch them, a discovery update), else built anew.
std::shared_ptr<server_tls> listener_tls(const config::listener_config& lc,
                                         const routing_snapshot* previous, metrics* registry) {
  if (!lc.tls) return nullptr;
  if (previous) {
    for (std::size_t i = 0; i < previous->listeners.size(); ++i) {
      const auto& old = previous->cfg->listeners[i];
      if (old.address.text == lc.address.text && old.tls && same_tls(*old.tls, *lc.tls))
        return previous->listeners[i].tls;
    }
  }
  auto tls = std::make_shared<server_tls>(*lc.tls, lc.address.text);
  if (registry) {
    const auto counters = registry->tls_handshake_counters(lc.address.text);
    tls->bind_counters(counters[0], counters[1]);
  }
  return tls;
}

// admin.tls: one certificate, counted as listener "admin".
std::shared_ptr<server_tls> admin_tls(const config::config& cfg, const routing_snapshot* previous,
                                      metrics* registry) {
  if (!cfg.admin_tls) return nullptr;
  if (previous && previous->admin_tls && previous->cfg->admin_tls &&
      same_certificate(*previous->cfg->admin_tls, *cfg.admin_tls))
    return previous->admin_tls;
  config::listener_tls_config settings;
  settings.certificates.push_back(*cfg.admin_tls);
  auto tls = std::make_shared<server_tls>(settings, "admin");
  if (registry) {
    const auto counters = registry->tls_handshake_counters("admin");
    tls->bind_counters(counters[0], counters[1]);
  }
  return tls;
}

std::shared_ptr<const client_tls> pool_tls(const config::pool_config& pc,
                                           const routing_snapshot* previous) {
  if (!pc.tls) return nullptr;
  if (previous) {
    for (std::size_t i = 0; i < previous->cfg->pools.size(); ++i) {
      const auto& old = previous->cfg->pools[i];
      if (old.name == pc.name && old.tls && same_tls(*old.tls, *pc.tls))
        return previous->upstream_tls[i];
    }
  }
  return std::make_shared<client_tls>(*pc.tls);
}

}  // namespace

const listener_entry* routing_snapshot::find_listener(std::string_view name) const noexcept {
  for (const auto& l : listeners)
    if (l.name == name) return &l;
  return nullptr;
}

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
    snap->upstream_tls.push_back(pool_tls(pc, previous));
  }
  for (const auto& lc : cfg->listeners)
    snap->listeners.push_back(
        listener_entry{lc.address.text, listener_tls(lc, previous, registry)});
  snap->admin_tls = admin_tls(*cfg, previous, registry);
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
