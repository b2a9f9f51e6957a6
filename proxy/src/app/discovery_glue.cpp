#include "app/discovery_glue.hpp"

#include <chrono>

#include <boost/json/array.hpp>

#include "tally/discovery/dns_refresher.hpp"
#include "tally/discovery/etcd_watcher.hpp"
#include "tally/proxy/log.hpp"

namespace tally::proxy {

namespace {

bool same_etcd(const config::etcd_discovery_config& a, const config::etcd_discovery_config& b) {
  if (a.prefix != b.prefix || a.token != b.token || a.endpoints.size() != b.endpoints.size())
    return false;
  for (std::size_t i = 0; i < a.endpoints.size(); ++i)
    if (a.endpoints[i].text != b.endpoints[i].text) return false;
  return true;
}

bool same_backends(const std::vector<config::backend_config>& a,
                   const std::vector<config::backend_config>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].address.text != b[i].address.text || a[i].weight != b[i].weight) return false;
  return true;
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct discovery_sources::source {
  config::discovery_config cfg;
  std::vector<config::backend_config> names;  // what DNS re-resolves
  std::unique_ptr<discovery::etcd_watcher> etcd;
  std::unique_ptr<discovery::dns_refresher> dns;

  bool same_as(const config::pool_config& pool) const {
    const auto& other = *pool.discovery;
    if (cfg.etcd.has_value() != other.etcd.has_value() ||
        cfg.dns.has_value() != other.dns.has_value())
      return false;
    if (cfg.etcd) return same_etcd(*cfg.etcd, *other.etcd);
    return cfg.dns->refresh == other.dns->refresh && same_backends(names, pool.backends);
  }
  void stop() {
    if (etcd) etcd->stop();
    if (dns) dns->stop();
  }
};

discovery_sources::discovery_sources(boost::asio::io_context& control, metrics& registry,
                                     std::function<void()> changed)
    : control_(control), registry_(registry), changed_(std::move(changed)) {}

discovery_sources::~discovery_sources() {
  stop();
}

void discovery_sources::stop() {
  for (auto& [name, s] : sources_)
    s->stop();
}

void discovery_sources::configure(const config::config& cfg) {
  std::map<std::string, std::unique_ptr<source>> next;
  for (const auto& pool : cfg.pools) {
    if (!pool.discovery) continue;
    auto old = sources_.find(pool.name);
    if (old != sources_.end() && old->second->same_as(pool)) {
      next[pool.name] = std::move(old->second);
      sources_.erase(old);
      continue;
    }
    auto s = std::make_unique<source>();
    s->cfg = *pool.discovery;
    s->names = pool.backends;
    if (pool.discovery->dns) {
      discovery::dns_refresher_options o;
      o.backends = pool.backends;
      o.refresh = pool.discovery->dns->refresh;
      o.on_update = [this, name = pool.name](const discovery::discovered_set& set) {
        publish(name, "dns", set);
      };
      o.on_result = [this, name = pool.name](bool ok) {
        registry_.count_discovery_update(name, "dns", ok);
      };
      o.log = [](std::string_view m) { log_warn(m); };
      s->dns = std::make_unique<discovery::dns_refresher>(control_.get_executor(), std::move(o));
      s->dns->start();
    }
    if (pool.discovery->etcd) {
      discovery::etcd_watcher_options o;
      o.etcd = *pool.discovery->etcd;
      // No resume from a set restored from the checkpoint: its revision belongs to the etcd
      // cluster of the last run, and one rebuilt or restored from a backup can sit below it, where
      // a watch would silently wait. A full read replaces the restored set as soon as etcd answers.
      o.on_update = [this, name = pool.name](const discovery::discovered_set& set) {
        publish(name, "etcd", set);
      };
      o.on_result = [this, name = pool.name](bool ok) {
        registry_.count_discovery_update(name, "etcd", ok);
      };
      o.log = [](std::string_view m) { log_warn(m); };
      s->etcd = std::make_unique<discovery::etcd_watcher>(control_.get_executor(), std::move(o));
      s->etcd->start();
    }
    next[pool.name] = std::move(s);
  }
  for (auto& [name, s] : sources_)  // pools gone or changed
    s->stop();
  sources_ = std::move(next);
  // A pool without discovery forgets its set; one whose source changed keeps it until the new
  // source answers, as it would while its old source was unreachable.
  std::lock_guard lock(mutex_);
  std::erase_if(pools_, [&](const auto& p) { return !sources_.contains(p.first); });
}

void discovery_sources::publish(const std::string& pool, const std::string& kind,
                                const discovery::discovered_set& set) {
  {
    std::lock_guard lock(mutex_);
    auto& p = pools_[pool];
    p.source = kind;
    p.revision = set.revision;
    p.last_update_ms = now_ms();
    p.backends = set.backends;
  }
  log_info("discovery: pool " + pool + " now has " + std::to_string(set.backends.size()) +
           " backends from " + kind + " (revision " + std::to_string(set.revision) + ")");
  changed_();
}

std::shared_ptr<const config::config> discovery_sources::overlay(
    std::shared_ptr<const config::config> cfg) const {
  std::lock_guard lock(mutex_);
  if (pools_.empty()) return cfg;
  auto copy = std::make_shared<config::config>(*cfg);
  for (auto& pool : copy->pools) {
    if (!pool.discovery) continue;
    auto found = pools_.find(pool.name);
    if (found == pools_.end()) continue;
    pool.backends.clear();
    for (const auto& b : found->second.backends)
      pool.backends.push_back({b.address, b.weight});
  }
  return copy;
}

boost::json::object discovery_sources::status_json() const {
  std::lock_guard lock(mutex_);
  boost::json::object out;
  for (const auto& [name, p] : pools_) {
    boost::json::object o;
    o["source"] = p.source;
    o["revision"] = p.revision;
    o["last_update"] = p.last_update_ms;
    o["backends"] = p.backends.size();
    out[name] = std::move(o);
  }
  return out;
}

std::map<std::string, discovered_pool> discovery_sources::sets() const {
  std::lock_guard lock(mutex_);
  return pools_;
}

void discovery_sources::restore(const std::string& pool, discovered_pool set) {
  std::lock_guard lock(mutex_);
  pools_[pool] = std::move(set);
}

void discovery_sources::forget_all() {
  std::lock_guard lock(mutex_);
  pools_.clear();
}

}  // namespace tally::proxy
