#include "tally/proxy/proxy_server.hpp"

#include <vector>

#include "http/proxy_shared.hpp"
#include "listener/worker.hpp"

namespace tally::proxy {

struct proxy_server::impl {
  explicit impl(snapshot_holder& s) : shared(s) {}
  proxy_shared shared;
  std::vector<std::unique_ptr<worker>> workers;
};

proxy_server::proxy_server(snapshot_holder& snapshots, unsigned workers, access_log* requests_log,
                           health::outlier_detector* outliers, metrics* registry)
    : impl_(std::make_unique<impl>(snapshots)) {
  impl_->shared.requests_log = requests_log;
  impl_->shared.outliers = outliers;
  impl_->shared.registry = registry;
  for (unsigned i = 0; i < std::max(1u, workers); ++i)
    impl_->workers.push_back(std::make_unique<worker>(i, impl_->shared));
}

proxy_server::~proxy_server() {
  stop();
}

void proxy_server::listen(std::vector<listener_spec> specs) {
  // The first worker turns port 0 into a real port in `specs`; the others join it.
  for (auto& w : impl_->workers)
    w->listen(specs);
}

boost::asio::ip::tcp::endpoint proxy_server::local_endpoint() const {
  auto all = local_endpoints();
  return all.empty() ? boost::asio::ip::tcp::endpoint{} : all.front();
}

std::vector<boost::asio::ip::tcp::endpoint> proxy_server::local_endpoints() const {
  return impl_->workers.front()->local_endpoints();
}

boost::system::error_code proxy_server::rebind(std::vector<listener_spec> specs) {
  for (auto& w : impl_->workers) {
    // The first worker may turn port 0 into a real port; the others join it. A failure after
    // the first worker changed leaves that worker on the new listeners: report it.
    if (auto ec = w->rebind(specs)) return ec;
  }
  return {};
}

void proxy_server::start() {
  for (auto& w : impl_->workers)
    w->start();
}

void proxy_server::begin_drain() {
  impl_->shared.draining.store(true);
  for (auto& w : impl_->workers)
    w->begin_drain();
}

void proxy_server::set_connection_cap(std::int64_t cap) noexcept {
  impl_->shared.connection_cap.store(cap, std::memory_order_relaxed);
}

bool proxy_server::draining() const noexcept {
  return impl_->shared.draining.load();
}

std::int64_t proxy_server::connections() const noexcept {
  return impl_->shared.downstream_connections.load(std::memory_order_relaxed);
}

std::int64_t proxy_server::active_requests() const noexcept {
  return impl_->shared.active_requests.load(std::memory_order_relaxed);
}

void proxy_server::stop() {
  for (auto& w : impl_->workers)
    w->stop();
  for (auto& w : impl_->workers)
    w->join();
}

unsigned proxy_server::workers() const noexcept {
  return static_cast<unsigned>(impl_->workers.size());
}

}  // namespace tally::proxy
