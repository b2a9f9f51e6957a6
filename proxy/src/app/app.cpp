#include "tally/proxy/app.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include "admin/admin_routes.hpp"
#include "admin/admin_server.hpp"
#include "app/checkpoint_glue.hpp"
#include "app/discovery_glue.hpp"
#include "app/process_limits.hpp"
#include "routing/resolve_address.hpp"
#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_writer.hpp"
#include "tally/cluster/cluster_node.hpp"
#include "tally/config/load.hpp"
#include "tally/health/health_checker.hpp"
#include "tally/health/health_target.hpp"
#include "tally/health/outlier_ticker.hpp"
#include "tally/proxy/access_log.hpp"
#include "tally/proxy/log.hpp"
#include "tally/proxy/metrics.hpp"
#include "tally/proxy/proxy_server.hpp"

namespace tally::proxy {

namespace {

// Listen addresses are resolved at start-up and on the blocking pool, never on a loop.
tcp::endpoint endpoint_of(const config::host_port& hp) {
  error_code ec;
  auto ep = resolve_address(hp, ec);
  if (ec)
    throw std::runtime_error("cannot resolve listen address " + hp.text + ": " + ec.message());
  return ep;
}

// The client listeners of `snap`, resolved, with their TLS. Throws when a name does not resolve.
std::vector<listener_spec> listener_specs(const routing_snapshot& snap) {
  std::vector<listener_spec> specs;
  for (std::size_t i = 0; i < snap.listeners.size(); ++i)
    specs.push_back(listener_spec{snap.listeners[i].name,
                                  endpoint_of(snap.cfg->listeners[i].address),
                                  snap.listeners[i].tls});
  return specs;
}

std::string listener_names(const config::config& cfg) {
  std::string out;
  for (const auto& l : cfg.listeners)
    out += (out.empty() ? "" : ", ") + l.address.text + (l.tls ? " (tls)" : "");
  return out;
}

}  // namespace

// The config's words map onto the log's enums by position.
static_assert(
    static_cast<int>(config::log_level_setting::debug) == static_cast<int>(log_level::debug) &&
    static_cast<int>(config::log_level_setting::error) == static_cast<int>(log_level::error) &&
    static_cast<int>(config::log_format_setting::json) == static_cast<int>(log_format::json));

void apply_log_settings(const config::config& cfg) {
  set_log_options(static_cast<log_level>(cfg.log.level), static_cast<log_format>(cfg.log.format));
}

struct app::impl {
  impl(std::shared_ptr<const config::config> c, app_options o)
      : options(std::move(o)), first_config(std::move(c)) {}

  app_options options;
  std::shared_ptr<const config::config> first_config;
  net::io_context control{1};
  // Blocking work (reading the config file, resolving names) runs here, never on a loop.
  net::thread_pool blocking{1};
  metrics registry;
  std::unique_ptr<access_log> requests_log;
  std::unique_ptr<snapshot_holder> snapshots;
  std::unique_ptr<proxy_server> proxy;
  std::unique_ptr<admin_server> admin;
  std::unique_ptr<admin_routes> routes;
  net::signal_set signals{control};
  // Passive health (workers report, the control loop un-ejects) and active health checks.
  health::outlier_detector outliers{[](std::string_view m) { log_info(m); }};
  health::outlier_ticker outlier_ticker{control, outliers};  // un-ejects when ejections end
  std::unique_ptr<health::health_checker> checker;
  std::unique_ptr<cluster::cluster_node> cluster;
  std::unique_ptr<checkpoint_source> checkpoint_state;
  // Backends found by discovery, and the config they are overlaid on: the file as last loaded
  // (written and read only on the blocking pool after start-up).
  std::unique_ptr<discovery_sources> discovery;
  std::shared_ptr<const config::config> base_config;
  std::atomic<bool> rebuild_pending{false};
  std::unique_ptr<cluster::checkpoint_writer> checkpoint_writer;
  net::steady_timer drain_timer{control};
  bool shutting_down = false;
  int exit_code = 0;

  void build_proxy(const config::config& cfg);
  // Client connections beyond what the descriptor limit holds are refused (process_limits.hpp).
  void cap_connections(const config::config& cfg) {
    proxy->set_connection_cap(
        static_cast<std::int64_t>(connections_that_fit(cfg, current_fd_limits().soft)));
  }
  void build_health_and_cluster(const config::config& cfg);
  void refresh_gauges_on_scrape();
  void open_listeners(const config::config& cfg);
  void publish_members(const routing_snapshot& snap);  // the cluster votes on these backends
  void watch_signals();
  void watch_health();  // on the control loop: health targets for the current snapshot
  // Reads checkpoint.path (or a peer's) and hands its discovered sets to `discovery`, before the
  // first snapshot is built; restore_checkpoint then applies the rest to that snapshot.
  cluster::checkpoint_load_result load_checkpoint(const config::config& cfg);
  void restore_checkpoint(const config::config& cfg, const cluster::checkpoint_load_result& saved);
  void state_changed() {
    if (checkpoint_writer) checkpoint_writer->request_write(checkpoint_state->state());
  }
  void begin_shutdown();
  void stop_now();  // the loops stop; run() then flushes the logs and the checkpoint
  net::awaitable<void> drain_then_stop();
  std::string reload_now();  // on the blocking pool
  // Makes the listeners those of `next` (on every reload: an unchanged address keeps its socket
  // but may take new certificates). Returns why it could not, or nothing.
  std::string rebind_listeners(const routing_snapshot& next, const config::config& current);
  void schedule_rebuild();  // a discovered set changed: rebuild the snapshot on the blocking pool
  void rebuild_for_discovery();
};

app::app(std::shared_ptr<const config::config> cfg, app_options options)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(options))) {}

app::~app() {
  if (impl_->proxy) impl_->proxy->stop();
  impl_->blocking.join();
}

void app::start() {
  auto& d = *impl_;
  const auto& cfg = *d.first_config;
  apply_log_settings(cfg);
  d.discovery =
      std::make_unique<discovery_sources>(d.control, d.registry, [&d] { d.schedule_rebuild(); });
  cluster::checkpoint_load_result saved;
  if (cfg.checkpoint) saved = d.load_checkpoint(cfg);
  d.build_proxy(cfg);
  d.build_health_and_cluster(cfg);
  if (cfg.checkpoint) d.restore_checkpoint(cfg, saved);
  d.outlier_ticker.start();
  d.refresh_gauges_on_scrape();
  d.open_listeners(cfg);
  d.proxy->start();
  d.admin->start();
  net::post(d.control, [d = &d] {
    d->watch_health();
    d->cluster->start();
    d->discovery->configure(*d->first_config);
  });
  if (d.options.handle_signals) d.watch_signals();
  log_info("tally " TALLY_VERSION " listening on " +
           d.proxy->local_endpoint().address().to_string() + ":" + std::to_string(proxy_port()) +
           " (admin " + d.admin->local_endpoint().address().to_string() + ":" +
           std::to_string(admin_port()) + ", " + std::to_string(d.proxy->workers()) + " workers)" +
           listening_detail());
}

void app::impl::build_proxy(const config::config& cfg) {
  const unsigned workers = worker_count(cfg);
  base_config = first_config;
  std::shared_ptr<const routing_snapshot> first;
  try {
    first = build_snapshot(discovery->overlay(first_config), nullptr, workers, &registry);
  } catch (const std::exception& e) {
    // Before the sources start, every set is one restored from the checkpoint; a host name in
    // it that no longer resolves must not keep tally from starting on its config.
    if (discovery->sets().empty()) throw;
    log_warn(std::string("checkpoint: not using the restored discovered backends: ") + e.what() +
             "; starting from the config until the sources answer");
    discovery->forget_all();
    first = build_snapshot(first_config, nullptr, workers, &registry);
  }
  snapshots = std::make_unique<snapshot_holder>(std::move(first));
  if (cfg.access_log.enabled) requests_log = std::make_unique<access_log>(cfg.access_log.path);
  proxy =
      std::make_unique<proxy_server>(*snapshots, workers, requests_log.get(), &outliers, &registry);
  cap_connections(cfg);
}

void app::impl::build_health_and_cluster(const config::config& cfg) {
  checker = std::make_unique<health::health_checker>(
      control, [] { return std::chrono::steady_clock::now(); },
      [](std::string_view m) { log_info(m); });
  // A cluster of one follows its own checks at once; with peers, verdicts come from votes.
  checker->set_verdict_follows_local(!cfg.cluster);
  cluster = std::make_unique<cluster::cluster_node>(
      control, cfg.cluster, cfg.admin_token,
      cluster::node_options{cluster::default_steady_now, cluster::default_system_ms,
                            [](std::string_view m) { log_info(m); }, 0});
  if (cfg.cluster) {
    std::vector<std::string> peer_ids;
    for (const auto& p : cfg.cluster->peers)
      peer_ids.push_back(p.id);
    registry.bind_peers(peer_ids);
  }
  checker->set_on_transition([this](std::string_view, const balancer::backend&, bool) {
    cluster->run_round();
    state_changed();
  });
  checker->set_on_result([r = &registry](std::string_view pool, const balancer::backend& b,
                                         const health::probe_result& result) {
    r->backend(pool, b.address()).health_check(result.ok);
  });
  checkpoint_state = std::make_unique<checkpoint_source>(*snapshots, *cluster, *discovery);
  publish_members(*snapshots->load());
}

void app::impl::publish_members(const routing_snapshot& snap) {
  std::vector<cluster::pool_backend> members;
  for (const auto& pool : snap.pools)
    for (const auto& b : pool->backends())
      members.push_back({pool->name(), b});
  cluster->set_backends(members);
}

void app::impl::refresh_gauges_on_scrape() {
  // Gauges mirror live state: read it when Prometheus scrapes, not on the request path.
  registry.set_refresher([this](metrics& m) {
    auto snap = snapshots->load();
    for (const auto& pool : snap->pools)
      for (const auto& b : pool->backends())
        m.set_backend_state(
            pool->name(), b->address(),
            backend_state{b->up(), b->local_up(), cluster->votes_down(pool->name(), b->address()),
                          b->active_requests(), b->drained(), b->ejected(), b->weight(),
                          b->queued_requests()});
    for (const auto& peer : cluster->peers())
      m.set_peer_up(peer.id, peer.up);
    m.set_downstream_connections(proxy->connections());
    if (requests_log) m.set_access_log_dropped(requests_log->dropped());
  });
}

void app::impl::open_listeners(const config::config& cfg) {
  try {
    proxy->listen(listener_specs(*snapshots->load()));
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + listener_names(cfg) + ": " + e.code().message() +
                             " (is another process using it? change `listen`)");
  }
  routes = std::make_unique<admin_routes>(admin_routes::context{
      *snapshots, *proxy, registry, *cluster, [this] { return !shutting_down; },
      [this] { state_changed(); },
      [this] { return cluster::encode_checkpoint(checkpoint_state->state()); },
      [this]() -> std::int64_t {
        return checkpoint_writer ? checkpoint_writer->last_success_ms() : 0;
      },
      [this]() -> net::awaitable<std::string> {
        co_return co_await net::co_spawn(
            blocking, [this]() -> net::awaitable<std::string> { co_return reload_now(); },
            net::use_awaitable);
      },
      [this] { return discovery->status_json(); }});
  admin_server_options admin_options;
  admin_options.refuse_early = [r = routes.get()](const admin_request& req) {
    return r->refuse_early(req);
  };
  admin_options.header_timeout = [this] { return snapshots->load()->cfg->timeouts.request_header; };
  admin_options.registry = &registry;
  admin_options.tls = [this] { return snapshots->load()->admin_tls; };
  admin = std::make_unique<admin_server>(
      control, [r = routes.get()](const admin_request& req) { return r->handle(req); },
      std::move(admin_options));
  try {
    admin->listen(endpoint_of(cfg.admin_listen));
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on admin address " + cfg.admin_listen.text + ": " +
                             e.code().message() + " (change `admin.listen`)");
  }
}

std::uint16_t app::proxy_port() const {
  return impl_->proxy->local_endpoint().port();
}
std::vector<std::uint16_t> app::proxy_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& ep : impl_->proxy->local_endpoints())
    ports.push_back(ep.port());
  return ports;
}

// With more than one listener, or TLS: every listener with its bound port.
std::string app::listening_detail() const {
  const auto& cfg = *impl_->snapshots->load()->cfg;
  if (cfg.listeners.size() == 1 && !cfg.listeners.front().tls) return {};
  const auto eps = impl_->proxy->local_endpoints();
  std::string out = "; listeners:";
  for (std::size_t i = 0; i < cfg.listeners.size() && i < eps.size(); ++i)
    out += std::string(i ? ", " : " ") + eps[i].address().to_string() + ":" +
           std::to_string(eps[i].port()) + (cfg.listeners[i].tls ? " https" : " http");
  return out;
}
std::uint16_t app::admin_port() const {
  return impl_->admin->local_endpoint().port();
}

int app::run() {
  impl_->control.run();
  impl_->proxy->stop();
  if (impl_->requests_log) impl_->requests_log->flush();
  if (impl_->checkpoint_writer) {
    impl_->checkpoint_writer->request_write(impl_->checkpoint_state->state());
    impl_->checkpoint_writer->flush();
  }
  log_info("tally stopped");
  return impl_->exit_code;
}

void app::shutdown() {
  net::post(impl_->control, [d = impl_.get()] { d->begin_shutdown(); });
}

std::string app::reload() {
  return net::co_spawn(
             impl_->blocking,
             [d = impl_.get()]() -> net::awaitable<std::string> { co_return d->reload_now(); },
             net::use_future)
      .get();
}

void app::impl::watch_signals() {
  signals.add(SIGINT);
  signals.add(SIGTERM);
  signals.add(SIGHUP);
  signals.add(SIGUSR1);
  signals.async_wait([this](error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      net::post(blocking, [this] {
        auto errors = reload_now();
        (void)errors;  // already logged
      });
    } else if (sig == SIGUSR1) {
      // logrotate renamed the file: the writer thread opens it again (no file I/O here).
      if (requests_log) requests_log->reopen();
    } else if (shutting_down) {
      log_warn(std::string("received a second ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
               ": exiting now, without waiting for " + std::to_string(proxy->connections()) +
               " open connections");
      stop_now();
      return;
    } else {
      log_info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
               ": draining connections (a second one exits at once)");
      begin_shutdown();
    }
    watch_signals();
  });
}

void app::impl::watch_health() {
  if (!checker) return;
  auto snap = snapshots->load();
  checker->set_targets(health::targets_for(snap->pools, snap->endpoints, snap->upstream_tls));
  publish_members(*snap);
}

// Reads checkpoint.path, or a peer's checkpoint when there is no file. Runs at start-up, before
// the first snapshot is built; a bad file is reported and set aside, never fatal.
cluster::checkpoint_load_result app::impl::load_checkpoint(const config::config& cfg) {
  const auto& path = cfg.checkpoint->path;
  // Stamps further ahead of this clock than the cluster allows are refused, as in a message.
  const auto max_offset =
      cfg.cluster ? cfg.cluster->max_clock_offset : cluster::default_max_clock_offset;
  const auto now = std::chrono::system_clock::now();
  auto loaded = cluster::load_checkpoint(path, now, max_offset);
  if (loaded.status == cluster::checkpoint_restore_status::no_file && cfg.cluster &&
      !cfg.cluster->peers.empty()) {
    std::string errors;
    if (auto bytes = fetch_peer_checkpoint(*cfg.cluster, cfg.admin_token, errors)) {
      // A rejected body is logged by restore_checkpoint, like a bad file.
      loaded = cluster::load_checkpoint_from_bytes(*bytes, now, max_offset);
      if (loaded.state)
        log_info("checkpoint: no local file; took the routing table of peer " +
                 loaded.state->node_id);
    } else {
      log_warn("checkpoint: no local file and no peer answered (" + errors +
               "); starting from the config");
    }
  }
  if (loaded.state) {
    if (auto pools = restore_discovered(*loaded.state, cfg, *discovery))
      log_info("checkpoint: restored the discovered backends of " + std::to_string(pools) +
               " pools; they serve until their source answers");
  }
  return loaded;
}

// Applies the loaded checkpoint to the first snapshot (which already holds its discovered sets),
// then starts writing checkpoints.
void app::impl::restore_checkpoint(const config::config& cfg,
                                   const cluster::checkpoint_load_result& saved) {
  const auto& path = cfg.checkpoint->path;
  auto snap = snapshots->load();
  auto result = cluster::match_checkpoint(saved, checkpoint_table_for(*snap));
  switch (result.status) {
    case cluster::checkpoint_restore_status::restored: {
      auto applied = apply_checkpoint(result, *snap, *cluster, *checkpoint_state);
      registry.count_checkpoint_restore(true);
      log_info("checkpoint: " + result.message + " (" + std::to_string(applied) + " backends)");
      break;
    }
    case cluster::checkpoint_restore_status::no_file:
      log_info("checkpoint: no file at " + path + " yet; starting from the config");
      break;
    default:
      registry.count_checkpoint_restore(false);
      log_error("checkpoint: " + result.message);
      break;
  }
  cluster::checkpoint_writer_options o;
  o.path = path;
  o.interval = cfg.checkpoint->interval;
  o.source = [s = checkpoint_state.get()] { return s->state(); };
  o.log = [](std::string_view m) { log_warn(m); };
  o.on_write = [r = &registry](const cluster::checkpoint_write_report& w) {
    r->count_checkpoint_write(w.ok);
  };
  checkpoint_writer = std::make_unique<cluster::checkpoint_writer>(std::move(o));
}

void app::impl::begin_shutdown() {
  if (shutting_down) return;
  shutting_down = true;  // /readyz answers 503 from here on
  net::co_spawn(control, drain_then_stop(), net::detached);
}

void app::impl::stop_now() {
  admin->stop();
  signals.cancel();
  drain_timer.cancel();
  control.stop();
}

net::awaitable<void> app::impl::drain_then_stop() {
  using clock = std::chrono::steady_clock;
  // Still serving while an upstream load balancer notices /readyz; a second signal cuts it short.
  const auto delay = snapshots->load()->cfg->timeouts.shutdown_delay;
  if (delay.count() > 0) {
    log_info("timeouts.shutdown_delay: still accepting for " + std::to_string(delay.count()) +
             " ms before draining");
    drain_timer.expires_after(delay);
    co_await drain_timer.async_wait(use_tuple);
  }
  proxy->begin_drain();
  if (checker) checker->stop();
  discovery->stop();
  cluster->stop();
  outlier_ticker.stop();
  auto deadline = clock::now() + snapshots->load()->cfg->timeouts.drain;
  // Requests in flight decrement the counters on the worker threads; there is no event to
  // wait for across threads, so look every 20 ms (this runs only during shutdown).
  while (proxy->connections() > 0 && clock::now() < deadline) {
    drain_timer.expires_after(std::chrono::milliseconds(20));
    co_await drain_timer.async_wait(use_tuple);
  }
  if (proxy->connections() > 0)
    log_warn("timeouts.drain expired with " + std::to_string(proxy->connections()) +
             " connections still open; closing them");
  stop_now();
}

std::string app::impl::rebind_listeners(const routing_snapshot& next,
                                        const config::config& current) {
  std::string problem;
  try {
    if (auto ec = proxy->rebind(listener_specs(next))) problem = ec.message();
  } catch (const std::exception& e) {
    problem = e.what();
  }
  if (!problem.empty())
    return "reload rejected: cannot listen on " + listener_names(*next.cfg) + ": " + problem +
           "; still serving on " + listener_names(current);
  if (listener_names(*next.cfg) != listener_names(current))
    log_info("reload: now listening on " + listener_names(*next.cfg));
  return {};
}

std::string app::impl::reload_now() {
  if (options.config_path.empty()) return "this instance has no config file to reload";
  if (proxy->draining()) {
    // Shutting down: a new listener or routing table would only delay the exit.
    log_warn(
        "reload ignored: tally is draining connections and exits soon; start it again "
        "to use the new config");
    return "tally is draining connections and exits soon; the reload was ignored\n";
  }
  auto loaded = config::load_config_file(options.config_path);
  if (!loaded.ok()) {
    registry.count_config_reload(false);
    std::string text;
    for (const auto& e : loaded.errors) {
      log_error("reload rejected: " + e.to_string());
      text += e.to_string() + "\n";
    }
    return text;
  }
  for (const auto& w : loaded.warnings)
    log_warn(w.to_string());
  auto current = snapshots->load();
  // All or nothing: everything is built before anything is touched, so a rejected file leaves
  // the listener and the routing table as they were.
  std::shared_ptr<const routing_snapshot> next;
  try {
    next = build_snapshot(discovery->overlay(loaded.value), current.get(), proxy->workers(),
                          &registry);
  } catch (const std::exception& e) {
    registry.count_config_reload(false);
    log_error(std::string("reload rejected: ") + e.what());
    return std::string(e.what()) + "\n";
  }
  if (auto problem = rebind_listeners(*next, *current->cfg); !problem.empty()) {
    registry.count_config_reload(false);
    log_error(problem);
    return problem + "\n";
  }
  cap_connections(*loaded.value);
  snapshots->store(std::move(next));
  apply_log_settings(*loaded.value);
  base_config = loaded.value;
  // Signing, verifying and the Bearer check switch to a rotated token together.
  cluster->set_token(loaded.value->admin_token);
  registry.count_config_reload(true);
  net::post(control, [this, cfg = loaded.value] {
    discovery->configure(*cfg);
    watch_health();
  });
  log_info("reloaded " + options.config_path + " (config " +
           loaded.value->content_hash.substr(0, 12) + ")");
  return {};
}

}  // namespace tally::proxy

namespace tally::proxy {

void app::impl::schedule_rebuild() {
  // A burst of changes (a deploy touching many keys) costs one rebuild, with the latest sets.
  if (rebuild_pending.exchange(true)) return;
  net::post(blocking, [this] {
    rebuild_pending = false;
    rebuild_for_discovery();
  });
}

void app::impl::rebuild_for_discovery() {
  auto current = snapshots->load();
  std::shared_ptr<const routing_snapshot> next;
  try {
    next =
        build_snapshot(discovery->overlay(base_config), current.get(), proxy->workers(), &registry);
  } catch (const std::exception& e) {
    log_error(std::string("discovery: keeping the current backends: ") + e.what());
    return;
  }
  snapshots->store(std::move(next));
  net::post(control, [this] {
    watch_health();
    state_changed();
  });
}

}  // namespace tally::proxy
