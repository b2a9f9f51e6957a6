#include "tally/proxy/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "observability/build_info.hpp"
#include "observability/process_stats.hpp"

namespace tally::proxy {
namespace {

constexpr unsigned status_table_size = 600;
constexpr std::uint8_t not_precreated = 0xff;

// status code → index into precreated_status_codes, so count_response is one array lookup.
constexpr std::array<std::uint8_t, status_table_size> status_slots = [] {
  std::array<std::uint8_t, status_table_size> table{};
  table.fill(not_precreated);
  for (std::size_t i = 0; i < precreated_status_codes.size(); ++i) {
    table[precreated_status_codes[i]] = static_cast<std::uint8_t>(i);
  }
  return table;
}();

constexpr std::array<std::string_view, upstream_outcome_count> outcome_names{
    "success", "http_5xx", "connect_failure", "reset",
    "timeout", "aborted",  "local_error",     "tls_error"};
constexpr std::array<std::string_view, 2> result_names{"success", "failure"};

using prometheus::MetricType;

// Every SPEC family, declared once: registration and the scrape's "keep empty families" pass
// both read this table, so a name or HELP text cannot drift between the two.
struct family_decl {
  const char* name;
  const char* help;
  MetricType type;
};
constexpr family_decl requests_decl{"tally_requests_total",
                                    "Responses sent to clients, by pool and HTTP status code.",
                                    MetricType::Counter};
constexpr family_decl duration_decl{
    "tally_request_duration_seconds",
    "Time from the request header received to the last response byte sent, by pool.",
    MetricType::Histogram};
constexpr family_decl upstream_decl{
    "tally_upstream_requests_total",
    "Tries sent to a backend, by outcome: success, http_5xx, connect_failure, reset, timeout, "
    "aborted (the client went away first), local_error (tally was out of descriptors or ports), "
    "tls_error (the TLS handshake with the "
    "backend failed, e.g. its certificate did not verify).",
    MetricType::Counter};
constexpr family_decl retries_decl{"tally_retries_total",
                                   "Retries, by pool and the retry.on condition that caused them.",
                                   MetricType::Counter};
constexpr family_decl backend_up_decl{
    "tally_backend_up", "Cluster verdict for the backend: 1 up, 0 down.", MetricType::Gauge};
constexpr family_decl backend_local_up_decl{
    "tally_backend_local_up", "This replica's active health check view: 1 up, 0 down.",
    MetricType::Gauge};
constexpr family_decl votes_down_decl{
    "tally_backend_votes_down", "Fresh votes (this replica included) saying the backend is down.",
    MetricType::Gauge};
constexpr family_decl active_decl{"tally_backend_active_requests",
                                  "Requests currently in flight to the backend.",
                                  MetricType::Gauge};
constexpr family_decl queue_length_decl{
    "tally_backend_queue_length",
    "Requests waiting for a slot of the backend (pools.<name>.max_connections).",
    MetricType::Gauge};
constexpr family_decl downstream_decl{"tally_downstream_connections",
                                      "Client connections currently open.", MetricType::Gauge};
constexpr family_decl reloads_decl{"tally_config_reloads_total",
                                   "Configuration reloads, by result.", MetricType::Counter};
constexpr family_decl checkpoint_writes_decl{
    "tally_checkpoint_writes_total", "Checkpoint file writes, by result.", MetricType::Counter};
constexpr family_decl checkpoint_restores_decl{"tally_checkpoint_restores_total",
                                               "Checkpoint restores at start-up, by result.",
                                               MetricType::Counter};
constexpr family_decl checkpoint_last_success_decl{
    "tally_checkpoint_last_success_timestamp_seconds",
    "Unix time of the last successful checkpoint write; 0 if none yet.", MetricType::Gauge};
constexpr family_decl peer_up_decl{
    "tally_cluster_peer_up", "1 when the peer's votes are fresh (newer than vote_ttl), else 0.",
    MetricType::Gauge};
constexpr family_decl health_checks_decl{
    "tally_health_checks_total", "Active health check probes, by result.", MetricType::Counter};
constexpr family_decl cluster_rejections_decl{
    "tally_cluster_messages_rejected_total",
    "Peer messages and admin changes refused, by reason: malformed, bad_signature, clock_offset, "
    "replay, stale_incarnation, unknown_node.",
    MetricType::Counter};

constexpr family_decl upstream_duration_decl{
    "tally_upstream_duration_seconds",
    "Time from a try's start (connect, or a pooled connection) to the backend's response header, "
    "by pool and backend; tries that got no response are not observed.",
    MetricType::Histogram};
constexpr family_decl drained_decl{"tally_backend_drained",
                                   "1 while an admin drain keeps new requests off the backend.",
                                   MetricType::Gauge};
constexpr family_decl ejected_decl{
    "tally_backend_ejected", "1 while this replica's outlier detection has ejected the backend.",
    MetricType::Gauge};
constexpr family_decl weight_decl{"tally_backend_weight",
                                  "The backend's weight in force (config or admin change).",
                                  MetricType::Gauge};
constexpr family_decl downstream_bytes_decl{
    "tally_downstream_bytes_total",
    "Body bytes read from clients (direction=\"in\") and sent to them (direction=\"out\").",
    MetricType::Counter};
constexpr family_decl last_reload_decl{
    "tally_config_last_reload_success_timestamp_seconds",
    "Unix time the configuration in force was loaded (start-up or the last successful reload).",
    MetricType::Gauge};
constexpr family_decl access_log_dropped_decl{
    "tally_access_log_dropped_total",
    "Access log lines dropped because the writer fell behind (queue full).", MetricType::Counter};
constexpr family_decl build_info_decl{"tally_build_info",
                                      "Always 1; the labels say which build of tally is running.",
                                      MetricType::Gauge};
constexpr family_decl process_resident_decl{"process_resident_memory_bytes",
                                            "Resident memory size in bytes.", MetricType::Gauge};
constexpr family_decl process_cpu_decl{"process_cpu_seconds_total",
                                       "Total user and system CPU time spent in seconds.",
                                       MetricType::Counter};
constexpr family_decl process_open_fds_decl{"process_open_fds", "Number of open file descriptors.",
                                            MetricType::Gauge};
constexpr family_decl process_max_fds_decl{
    "process_max_fds", "Maximum number of open file descriptors (the soft limit).",
    MetricType::Gauge};
constexpr family_decl process_start_decl{"process_start_time_seconds",
                                         "Start time of the process since unix epoch in seconds.",
                                         MetricType::Gauge};

constexpr family_decl accept_errors_decl{
    "tally_accept_errors_total",
    "Failed accepts on the proxy and admin listeners, by reason: emfile (out of descriptors), "
    "enfile (the system is), enobufs, enomem, other. Accepting pauses briefly after each.",
    MetricType::Counter};

constexpr family_decl discovery_updates_decl{
    "tally_discovery_updates_total",
    "Service discovery updates of a pool's backends, by source (etcd, dns) and result: success "
    "for an applied set, failure for a failed lookup or request, a broken watch or a bad value.",
    MetricType::Counter};

constexpr family_decl tls_handshakes_decl{
    "tally_tls_handshakes_total",
    "TLS handshakes on the client listeners (listener = its configured address) and the admin "
    "listener (admin), by result: success, or failure (the reason is logged at debug).",
    MetricType::Counter};

constexpr std::array<const family_decl*, 33> all_families{&cluster_rejections_decl,
                                                          &requests_decl,
                                                          &duration_decl,
                                                          &upstream_decl,
                                                          &upstream_duration_decl,
                                                          &retries_decl,
                                                          &backend_up_decl,
                                                          &backend_local_up_decl,
                                                          &votes_down_decl,
                                                          &active_decl,
                                                          &drained_decl,
                                                          &ejected_decl,
                                                          &weight_decl,
                                                          &queue_length_decl,
                                                          &downstream_decl,
                                                          &downstream_bytes_decl,
                                                          &reloads_decl,
                                                          &last_reload_decl,
                                                          &checkpoint_writes_decl,
                                                          &checkpoint_restores_decl,
                                                          &checkpoint_last_success_decl,
                                                          &peer_up_decl,
                                                          &health_checks_decl,
                                                          &access_log_dropped_decl,
                                                          &build_info_decl,
                                                          &process_resident_decl,
                                                          &process_cpu_decl,
                                                          &process_open_fds_decl,
                                                          &process_max_fds_decl,
                                                          &process_start_decl,
                                                          &accept_errors_decl,
                                                          &discovery_updates_decl,
                                                          &tls_handshakes_decl};

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& r,
                                                        const family_decl& d) {
  return prometheus::BuildCounter().Name(d.name).Help(d.help).Register(r);
}
prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& r, const family_decl& d) {
  return prometheus::BuildGauge().Name(d.name).Help(d.help).Register(r);
}

std::array<prometheus::Counter*, 2> result_counters(prometheus::Family<prometheus::Counter>& f) {
  return {&f.Add({{"result", std::string(result_names[0])}}),
          &f.Add({{"result", std::string(result_names[1])}})};
}

// Position in all_families; families registered by others sort last.
std::size_t rank(const std::string& name) {
  for (std::size_t i = 0; i < all_families.size(); ++i) {
    if (name == all_families[i]->name) return i;
  }
  return all_families.size();
}

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Moves a counter up to a running total kept elsewhere (never down).
void raise_to(prometheus::Counter& c, double total) {
  if (total > c.Value()) c.Increment(total - c.Value());
}

// Non-cumulative atomic buckets (bounds +Inf implied) and a nanosecond sum, as one series.
template <std::size_t N, std::size_t B>
prometheus::ClientMetric histogram_metric(prometheus::ClientMetric::Label label_a,
                                          std::optional<prometheus::ClientMetric::Label> label_b,
                                          const std::array<std::atomic<std::uint64_t>, N>& buckets,
                                          const std::array<double, B>& bounds,
                                          const std::atomic<std::uint64_t>& sum_ns) {
  static_assert(N == B + 1);
  prometheus::ClientMetric m;
  m.label.push_back(std::move(label_a));
  if (label_b) m.label.push_back(std::move(*label_b));
  std::uint64_t cumulative = 0;
  m.histogram.bucket.reserve(N);
  for (std::size_t i = 0; i < N; ++i) {
    cumulative += buckets[i].load(std::memory_order_relaxed);
    m.histogram.bucket.push_back(
        {cumulative, i < B ? bounds[i] : std::numeric_limits<double>::infinity()});
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(sum_ns.load(std::memory_order_relaxed)) / 1e9;
  return m;
}

template <std::size_t N, std::size_t B>
void observe_into(std::array<std::atomic<std::uint64_t>, N>& buckets,
                  const std::array<double, B>& bounds, std::atomic<std::uint64_t>& sum_ns,
                  double seconds) noexcept {
  if (!(seconds > 0)) seconds = 0;  // also catches NaN
  std::size_t i = 0;
  while (i < B && seconds > bounds[i])
    ++i;
  buckets[i].fetch_add(1, std::memory_order_relaxed);
  // Saturate absurd values instead of overflowing the conversion.
  const double ns = std::min(seconds * 1e9, 1e18);
  sum_ns.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

}  // namespace

std::string_view to_string(upstream_outcome outcome) noexcept {
  return outcome_names[static_cast<std::size_t>(outcome)];
}

// ---- pool_metrics ---------------------------------------------------------------------------

void pool_metrics::count_response(unsigned status, double duration_seconds) noexcept {
  const std::uint8_t slot = status < status_table_size ? status_slots[status] : not_precreated;
  prometheus::Counter* counter = slot != not_precreated ? status_[slot] : nullptr;
  if (counter == nullptr) {
    try {
      counter = rare_status_counter(status);
    } catch (...) {
      // Out of memory on the rare path: lose this one count rather than the request.
    }
  }
  if (counter != nullptr) counter->Increment();
  observe(duration_seconds);
}

prometheus::Counter* pool_metrics::rare_status_counter(unsigned status) {
  std::lock_guard lock(rare_mutex_);
  auto [it, inserted] = rare_status_.try_emplace(status, nullptr);
  if (inserted) {
    it->second = &requests_family_->Add({{"pool", name_}, {"code", std::to_string(status)}});
  }
  return it->second;
}

void pool_metrics::observe(double seconds) noexcept {
  observe_into(buckets_, request_duration_buckets, sum_ns_, seconds);
}

void backend_metrics::observe_upstream(double seconds) noexcept {
  observe_into(buckets_, upstream_duration_buckets, sum_ns_, seconds);
}

// ---- metrics --------------------------------------------------------------------------------

metrics::metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(counter_family(*registry_, requests_decl)),
      upstream_requests_(counter_family(*registry_, upstream_decl)),
      retries_(counter_family(*registry_, retries_decl)),
      backend_up_(gauge_family(*registry_, backend_up_decl)),
      backend_local_up_(gauge_family(*registry_, backend_local_up_decl)),
      backend_votes_down_(gauge_family(*registry_, votes_down_decl)),
      backend_active_requests_(gauge_family(*registry_, active_decl)),
      backend_queue_length_(gauge_family(*registry_, queue_length_decl)),
      downstream_connections_family_(gauge_family(*registry_, downstream_decl)),
      config_reloads_(counter_family(*registry_, reloads_decl)),
      checkpoint_writes_(counter_family(*registry_, checkpoint_writes_decl)),
      checkpoint_restores_(counter_family(*registry_, checkpoint_restores_decl)),
      checkpoint_last_success_family_(gauge_family(*registry_, checkpoint_last_success_decl)),
      peer_up_(gauge_family(*registry_, peer_up_decl)),
      health_checks_(counter_family(*registry_, health_checks_decl)),
      cluster_rejections_(counter_family(*registry_, cluster_rejections_decl)),
      backend_drained_(gauge_family(*registry_, drained_decl)),
      backend_ejected_(gauge_family(*registry_, ejected_decl)),
      backend_weight_(gauge_family(*registry_, weight_decl)),
      downstream_bytes_(counter_family(*registry_, downstream_bytes_decl)),
      last_reload_success_family_(gauge_family(*registry_, last_reload_decl)),
      access_log_dropped_family_(counter_family(*registry_, access_log_dropped_decl)),
      build_info_family_(gauge_family(*registry_, build_info_decl)),
      process_resident_family_(gauge_family(*registry_, process_resident_decl)),
      process_cpu_family_(counter_family(*registry_, process_cpu_decl)),
      process_open_fds_family_(gauge_family(*registry_, process_open_fds_decl)),
      process_max_fds_family_(gauge_family(*registry_, process_max_fds_decl)),
      process_start_family_(gauge_family(*registry_, process_start_decl)),
      accept_errors_(counter_family(*registry_, accept_errors_decl)),
      discovery_updates_(counter_family(*registry_, discovery_updates_decl)),
      tls_handshakes_(counter_family(*registry_, tls_handshakes_decl)),
      downstream_connections_(downstream_connections_family_.Add({})),
      checkpoint_last_success_(checkpoint_last_success_family_.Add({})),
      bytes_in_(downstream_bytes_.Add({{"direction", "in"}})),
      bytes_out_(downstream_bytes_.Add({{"direction", "out"}})),
      last_reload_success_(last_reload_success_family_.Add({})),
      access_log_dropped_(access_log_dropped_family_.Add({})),
      process_resident_(process_resident_family_.Add({})),
      process_cpu_(process_cpu_family_.Add({})),
      process_open_fds_(process_open_fds_family_.Add({})),
      process_max_fds_(process_max_fds_family_.Add({})),
      config_reload_counters_(result_counters(config_reloads_)),
      checkpoint_write_counters_(result_counters(checkpoint_writes_)),
      checkpoint_restore_counters_(result_counters(checkpoint_restores_)) {
  const auto& build = this_build();
  build_info_family_.Add({{"version", build.version}, {"commit", build.commit}}).Set(1);
  process_start_family_.Add({}).Set(process_start_time_seconds());
  last_reload_success_.Set(unix_seconds(std::chrono::system_clock::now()));
  for (std::size_t l = 0; l < accept_listeners.size(); ++l)
    for (std::size_t r = 0; r < accept_error_reasons.size(); ++r)
      accept_error_counters_[l][r] =
          &accept_errors_.Add({{"listener", std::string(accept_listeners[l])},
                               {"reason", std::string(accept_error_reasons[r])}});
}

metrics::~metrics() = default;

std::string metrics::backend_key(std::string_view pool, std::string_view backend) {
  // '\0' cannot occur in a pool name or an address, so the key is unambiguous.
  std::string key;
  key.reserve(pool.size() + 1 + backend.size());
  key.append(pool).push_back('\0');
  key.append(backend);
  return key;
}

pool_metrics& metrics::pool_locked(std::string_view name) {
  if (auto it = pools_.find(name); it != pools_.end()) return *it->second;
  std::unique_ptr<pool_metrics> pm(new pool_metrics(std::string(name)));
  pm->requests_family_ = &requests_;
  for (std::size_t i = 0; i < precreated_status_codes.size(); ++i) {
    pm->status_[i] =
        &requests_.Add({{"pool", pm->name_}, {"code", std::to_string(precreated_status_codes[i])}});
  }
  for (std::size_t i = 0; i < retry_reason_count; ++i) {
    pm->retries_[i] = &retries_.Add(
        {{"pool", pm->name_}, {"reason", std::string(config::retry_condition_words[i])}});
  }
  auto& ref = *pm;
  pools_.emplace(std::string(name), std::move(pm));
  return ref;
}

backend_metrics& metrics::backend_locked(std::string_view pool, std::string_view backend) {
  std::string key = backend_key(pool, backend);
  if (auto it = backends_.find(key); it != backends_.end()) return *it->second;
  std::unique_ptr<backend_metrics> bm(new backend_metrics());
  const std::string pool_s(pool), backend_s(backend);
  for (std::size_t i = 0; i < upstream_outcome_count; ++i) {
    bm->upstream_[i] = &upstream_requests_.Add(
        {{"pool", pool_s}, {"backend", backend_s}, {"outcome", std::string(outcome_names[i])}});
  }
  for (std::size_t i = 0; i < 2; ++i) {
    bm->health_checks_[i] = &health_checks_.Add(
        {{"pool", pool_s}, {"backend", backend_s}, {"result", std::string(result_names[i])}});
  }
  auto& ref = *bm;
  backends_.emplace(std::move(key), std::move(bm));
  return ref;
}

pool_metrics& metrics::pool(std::string_view name) {
  std::lock_guard lock(mutex_);
  return pool_locked(name);
}

backend_metrics& metrics::backend(std::string_view pool, std::string_view backend) {
  std::lock_guard lock(mutex_);
  pool_locked(pool);  // a backend's pool always has its families too
  return backend_locked(pool, backend);
}

std::shared_ptr<const metrics_binding> metrics::bind(const std::vector<pool_binding>& pools) {
  auto binding = std::make_shared<metrics_binding>();
  binding->bytes_in_ = &bytes_in_;
  binding->bytes_out_ = &bytes_out_;
  binding->pools_.reserve(pools.size());
  binding->backends_.resize(pools.size());

  std::lock_guard lock(mutex_);
  std::map<std::string, backend_gauges, std::less<>> gauges;
  for (std::size_t p = 0; p < pools.size(); ++p) {
    const pool_binding& pb = pools[p];
    binding->pools_.push_back(&pool_locked(pb.name));
    binding->backends_[p].reserve(pb.backends.size());
    for (const std::string& address : pb.backends) {
      binding->backends_[p].push_back(&backend_locked(pb.name, address));
      std::string key = backend_key(pb.name, address);
      if (gauges.contains(key)) continue;
      if (auto it = backend_gauges_.find(key); it != backend_gauges_.end()) {
        gauges.insert(backend_gauges_.extract(it));
        continue;
      }
      const prometheus::Labels labels{{"pool", pb.name}, {"backend", address}};
      backend_gauges g{&backend_up_.Add(labels),         &backend_local_up_.Add(labels),
                       &backend_votes_down_.Add(labels), &backend_active_requests_.Add(labels),
                       &backend_drained_.Add(labels),    &backend_ejected_.Add(labels),
                       &backend_weight_.Add(labels),     &backend_queue_length_.Add(labels)};
      // SPEC: a backend starts up (serving) until told otherwise.
      g.up->Set(1);
      g.local_up->Set(1);
      g.weight->Set(1);
      gauges.emplace(std::move(key), g);
    }
  }
  // Whatever is left belonged to backends this binding dropped. Only the refresher writes these
  // gauges, always under mutex_, so freeing them here cannot race a writer.
  for (auto& [key, g] : backend_gauges_) {
    backend_up_.Remove(g.up);
    backend_local_up_.Remove(g.local_up);
    backend_votes_down_.Remove(g.votes_down);
    backend_active_requests_.Remove(g.active_requests);
    backend_drained_.Remove(g.drained);
    backend_ejected_.Remove(g.ejected);
    backend_weight_.Remove(g.weight);
    backend_queue_length_.Remove(g.queue_length);
  }
  backend_gauges_ = std::move(gauges);
  return binding;
}

void metrics::bind_peers(const std::vector<std::string>& peer_ids) {
  std::lock_guard lock(mutex_);
  std::map<std::string, prometheus::Gauge*, std::less<>> gauges;
  for (const std::string& id : peer_ids) {
    if (gauges.contains(id)) continue;
    if (auto it = peer_gauges_.find(id); it != peer_gauges_.end()) {
      gauges.insert(peer_gauges_.extract(it));
    } else {
      gauges.emplace(id, &peer_up_.Add({{"peer", id}}));
    }
  }
  for (auto& [id, g] : peer_gauges_)
    peer_up_.Remove(g);
  peer_gauges_ = std::move(gauges);
}

void metrics::set_refresher(std::function<void(metrics&)> refresher) {
  std::lock_guard lock(mutex_);
  refresher_ = std::move(refresher);
}

void metrics::set_backend_state(std::string_view pool, std::string_view backend,
                                const backend_state& state) {
  const std::string key = backend_key(pool, backend);
  std::lock_guard lock(mutex_);
  auto it = backend_gauges_.find(key);
  if (it == backend_gauges_.end()) return;
  it->second.up->Set(state.up ? 1 : 0);
  it->second.local_up->Set(state.local_up ? 1 : 0);
  it->second.votes_down->Set(state.votes_down);
  it->second.active_requests->Set(static_cast<double>(state.active_requests));
  it->second.drained->Set(state.drained ? 1 : 0);
  it->second.ejected->Set(state.ejected ? 1 : 0);
  it->second.weight->Set(state.weight);
  it->second.queue_length->Set(static_cast<double>(state.queued_requests));
}

void metrics::set_peer_up(std::string_view peer, bool up) {
  std::lock_guard lock(mutex_);
  if (auto it = peer_gauges_.find(peer); it != peer_gauges_.end()) it->second->Set(up ? 1 : 0);
}

void metrics::set_cluster_rejections(std::string_view reason, std::uint64_t total) {
  std::lock_guard lock(mutex_);
  auto it = rejection_counters_.find(reason);
  if (it == rejection_counters_.end())
    it = rejection_counters_
             .emplace(std::string(reason),
                      &cluster_rejections_.Add({{"reason", std::string(reason)}}))
             .first;
  raise_to(*it->second, static_cast<double>(total));
}

void metrics::set_access_log_dropped(std::uint64_t total) {
  raise_to(access_log_dropped_, static_cast<double>(total));
}

void metrics::refresh_process_families() const {
  const auto sample = read_process_sample();
  process_resident_.Set(sample.resident_bytes);
  raise_to(process_cpu_, sample.cpu_seconds);
  process_open_fds_.Set(sample.open_fds);
  process_max_fds_.Set(sample.max_fds);
}

void metrics::set_downstream_connections(std::int64_t connections) noexcept {
  downstream_connections_.Set(static_cast<double>(connections));
}

void metrics::set_checkpoint_last_success(std::chrono::system_clock::time_point when) noexcept {
  checkpoint_last_success_.Set(unix_seconds(when));
}

void metrics::count_discovery_update(std::string_view pool, std::string_view source, bool success) {
  discovery_updates_
      .Add({{"pool", std::string(pool)},
            {"source", std::string(source)},
            {"result", std::string(result_names[success ? 0 : 1])}})
      .Increment();
}

std::array<prometheus::Counter*, 2> metrics::tls_handshake_counters(std::string_view listener) {
  return {&tls_handshakes_.Add({{"listener", std::string(listener)}, {"result", "success"}}),
          &tls_handshakes_.Add({{"listener", std::string(listener)}, {"result", "failure"}})};
}

void metrics::count_config_reload(bool success) noexcept {
  config_reload_counters_[success ? 0 : 1]->Increment();
  if (success) last_reload_success_.Set(unix_seconds(std::chrono::system_clock::now()));
}

void metrics::count_checkpoint_write(bool success) noexcept {
  checkpoint_write_counters_[success ? 0 : 1]->Increment();
  if (success) set_checkpoint_last_success(std::chrono::system_clock::now());
}

void metrics::count_checkpoint_restore(bool success) noexcept {
  checkpoint_restore_counters_[success ? 0 : 1]->Increment();
}

void metrics::count_accept_error(std::string_view listener, std::string_view reason) noexcept {
  std::size_t l = 0;
  while (l + 1 < accept_listeners.size() && accept_listeners[l] != listener)
    ++l;
  std::size_t r = 0;
  while (r + 1 < accept_error_reasons.size() && accept_error_reasons[r] != reason)
    ++r;  // stops at "other", the last
  accept_error_counters_[l][r]->Increment();
}

std::string metrics::scrape() const {
  std::function<void(metrics&)> refresher;
  {
    std::lock_guard lock(mutex_);
    refresher = refresher_;
  }
  // metrics objects are never defined const; scrape() is const because it only observes, and
  // the refresher only copies live state into gauges.
  if (refresher) refresher(const_cast<metrics&>(*this));
  refresh_process_families();

  std::vector<prometheus::MetricFamily> families = registry_->Collect();

  prometheus::MetricFamily histogram{
      duration_decl.name, duration_decl.help, prometheus::MetricType::Histogram, {}};
  prometheus::MetricFamily upstream_histogram{upstream_duration_decl.name,
                                              upstream_duration_decl.help,
                                              prometheus::MetricType::Histogram,
                                              {}};
  {
    std::lock_guard lock(mutex_);
    histogram.metric.reserve(pools_.size());
    for (const auto& [name, pm] : pools_)
      histogram.metric.push_back(histogram_metric({"pool", name}, std::nullopt, pm->buckets_,
                                                  request_duration_buckets, pm->sum_ns_));
    upstream_histogram.metric.reserve(backends_.size());
    for (const auto& [key, bm] : backends_) {
      const auto split = key.find('\0');
      upstream_histogram.metric.push_back(
          // Labels in name order, as prometheus-cpp writes every other family's.
          histogram_metric({"backend", key.substr(split + 1)},
                           prometheus::ClientMetric::Label{"pool", key.substr(0, split)},
                           bm->buckets_, upstream_duration_buckets, bm->sum_ns_));
    }
  }
  families.push_back(std::move(histogram));
  families.push_back(std::move(upstream_histogram));

  // prometheus-cpp leaves a family with no series out of Collect(); keep its HELP/TYPE anyway
  // so every SPEC name is always present (e.g. tally_cluster_peer_up without peers).
  for (const family_decl* d : all_families) {
    const bool present = std::any_of(families.begin(), families.end(),
                                     [&](const auto& f) { return f.name == d->name; });
    if (!present) families.push_back({d->name, d->help, d->type, {}});
  }
  // Stable, readable order: the SPEC's order rather than prometheus-cpp's grouping by type.
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return rank(a.name) < rank(b.name); });
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, families);
  return std::move(out).str();
}

}  // namespace tally::proxy
