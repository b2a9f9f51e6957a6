// The Prometheus metrics of SPEC "Metrics": one registry, every family registered once in the
// constructor, and handles the request path keeps so that counting a request is an array index
// plus an atomic add — never a label lookup, a lock or an allocation.
//
// How the proxy uses it:
//   - at start-up and on every reload, while building the routing snapshot:
//       snapshot.metrics = metrics.bind({{"web", {"127.0.0.1:9001", "127.0.0.1:9002"}}, ...});
//     (indices follow the order of the vectors passed, i.e. the snapshot's pool/backend order);
//   - per request, through the snapshot the request already loaded:
//       pool_metrics& pm = snapshot.metrics->pool(pool_index);
//       backend_metrics& bm = snapshot.metrics->backend(pool_index, backend_index);
//       bm.upstream(upstream_outcome::success);   // once per upstream try
//       pm.retry(retry_reason::status_503);       // once per retry
//       pm.count_response(status, seconds);       // once per downstream response
//   - state that lives elsewhere (verdicts, votes, active requests, peers, connections) is copied
//     into gauges by a refresher that scrape() runs first, so the hot path never touches gauges.
//
// Lifetime: pool_metrics and backend_metrics are created on first bind of a (pool, backend) name
// and live as long as the metrics object, so a request still holding an old snapshot's binding
// keeps counting safely after a reload. Counters of removed backends therefore stay in the scrape
// (frozen; Prometheus handles that, and a series vanishing mid-life would break rate()). State
// gauges, which only the refresher writes, are removed for backends and peers no longer bound.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "tally/config/config.hpp"

namespace tally::proxy {

// Label values of tally_upstream_requests_total{outcome}: how one try against a backend ended.
enum class upstream_outcome : std::uint8_t {
  success,          // "success": response header received with status < 500
  http_5xx,         // "http_5xx": response header received with status >= 500
  connect_failure,  // "connect_failure": TCP connect refused, unreachable or timed out
  reset,            // "reset": connection closed or reset before a complete response header
  timeout,          // "timeout": upstream_response / per_try_timeout expired
  aborted,          // "aborted": the client went away first; not the backend's fault
  local_error,      // "local_error": tally had no descriptor, port or memory to connect with
  tls_error,        // "tls_error": the TLS handshake with the backend failed (verification)
};
inline constexpr std::size_t upstream_outcome_count = 8;
std::string_view to_string(upstream_outcome outcome) noexcept;

// Label values of tally_retries_total{reason}: the retry.on word that triggered the retry.
using retry_reason = config::retry_condition;
inline constexpr std::size_t retry_reason_count = config::retry_condition_count;

// Label values of tally_accept_errors_total{listener,reason}. A reason not listed counts as
// "other".
inline constexpr std::array<std::string_view, 2> accept_listeners{"proxy", "admin"};
inline constexpr std::array<std::string_view, 5> accept_error_reasons{"emfile", "enfile", "enobufs",
                                                                      "enomem", "other"};

// Upper bounds (seconds) of tally_request_duration_seconds, +Inf implied.
inline constexpr std::array<double, 14> request_duration_buckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// Upper bounds (seconds) of tally_upstream_duration_seconds, +Inf implied.
inline constexpr std::array<double, 14> upstream_duration_buckets = request_duration_buckets;

// Status codes whose tally_requests_total counter exists before the first request; counting
// them is one table lookup. Other codes take a small mutex-protected map (rare by definition).
inline constexpr std::array<unsigned, 17> precreated_status_codes{
    200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 408, 413, 431, 500, 502, 503, 504};

// Per-backend counters. Every method is thread-safe, lock-free and allocation-free.
class backend_metrics {
 public:
  backend_metrics(const backend_metrics&) = delete;
  backend_metrics& operator=(const backend_metrics&) = delete;

  // tally_upstream_requests_total{pool,backend,outcome} += 1 (once per try).
  void upstream(upstream_outcome outcome) noexcept {
    upstream_[static_cast<std::size_t>(outcome)]->Increment();
  }
  // tally_health_checks_total{pool,backend,result} += 1 (once per active probe).
  void health_check(bool success) noexcept { health_checks_[success ? 0 : 1]->Increment(); }
  // tally_upstream_duration_seconds{pool,backend}: a try's start (connect, or a pooled
  // connection) to the backend's response header. Tries without a response are not observed.
  void observe_upstream(double seconds) noexcept;

 private:
  friend class metrics;
  backend_metrics() = default;

  std::array<prometheus::Counter*, upstream_outcome_count> upstream_{};
  std::array<prometheus::Counter*, 2> health_checks_{};  // [0] success, [1] failure
  // Non-cumulative buckets, summed at scrape (see pool_metrics).
  std::array<std::atomic<std::uint64_t>, upstream_duration_buckets.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Per-pool counters and the duration histogram. Every method is thread-safe; count_response is
// lock-free and allocation-free for the precreated status codes.
class pool_metrics {
 public:
  pool_metrics(const pool_metrics&) = delete;
  pool_metrics& operator=(const pool_metrics&) = delete;

  // tally_requests_total{pool,code} += 1 and tally_request_duration_seconds{pool} observes
  // duration_seconds (request received → response finished). Once per downstream response.
  void count_response(unsigned status, double duration_seconds) noexcept;

  // tally_retries_total{pool,reason} += 1.
  void retry(retry_reason reason) noexcept { retries_[config::index_of(reason)]->Increment(); }

  const std::string& name() const noexcept { return name_; }

 private:
  friend class metrics;
  explicit pool_metrics(std::string name) : name_(std::move(name)) {}

  prometheus::Counter* rare_status_counter(unsigned status);
  void observe(double seconds) noexcept;

  std::string name_;
  std::array<prometheus::Counter*, precreated_status_codes.size()> status_{};
  std::array<prometheus::Counter*, retry_reason_count> retries_{};

  // The histogram is ours rather than prometheus::Histogram, whose Observe takes a mutex: with
  // one histogram per pool every worker would serialize on it. Buckets are non-cumulative here
  // and summed at scrape; the sum is kept in integer nanoseconds so it is one fetch_add.
  std::array<std::atomic<std::uint64_t>, request_duration_buckets.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};

  prometheus::Family<prometheus::Counter>* requests_family_ = nullptr;
  std::mutex rare_mutex_;
  std::map<unsigned, prometheus::Counter*> rare_status_;  // guarded by rare_mutex_
};

// What the proxy passes to bind(): a pool's name and its backends' configured addresses, in the
// routing snapshot's order.
struct pool_binding {
  std::string name;
  std::vector<std::string> backends;
};

// Handles for one routing snapshot, indexed like the snapshot: [pool][backend]. Immutable; the
// pointers stay valid for the metrics object's whole life.
class metrics_binding {
 public:
  pool_metrics& pool(std::size_t pool_index) const noexcept { return *pools_[pool_index]; }
  backend_metrics& backend(std::size_t pool_index, std::size_t backend_index) const noexcept {
    return *backends_[pool_index][backend_index];
  }
  std::size_t pool_count() const noexcept { return pools_.size(); }
  std::size_t backend_count(std::size_t pool_index) const noexcept {
    return backends_[pool_index].size();
  }
  // tally_downstream_bytes_total{direction}: body bytes read from and sent to clients.
  void count_downstream_bytes(std::uint64_t in, std::uint64_t out) const noexcept {
    if (in) bytes_in_->Increment(static_cast<double>(in));
    if (out) bytes_out_->Increment(static_cast<double>(out));
  }

 private:
  friend class metrics;
  prometheus::Counter* bytes_in_ = nullptr;
  prometheus::Counter* bytes_out_ = nullptr;
  std::vector<pool_metrics*> pools_;
  std::vector<std::vector<backend_metrics*>> backends_;
};

// Values of the per-backend state gauges, copied from the live objects at scrape time.
struct backend_state {
  bool up = true;                    // tally_backend_up: the cluster verdict
  bool local_up = true;              // tally_backend_local_up: this replica's active checks
  unsigned votes_down = 0;           // tally_backend_votes_down: fresh votes saying down
  std::int64_t active_requests = 0;  // tally_backend_active_requests
  bool drained = false;              // tally_backend_drained: an admin drain is in force
  bool ejected = false;              // tally_backend_ejected: outlier detection ejected it
  unsigned weight = 1;               // tally_backend_weight: the weight in force
  std::int64_t queued_requests = 0;  // tally_backend_queue_length
};

class metrics {
 public:
  metrics();
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  // Creates (first time) or finds the metrics of every pool and backend listed and returns the
  // snapshot's handles. Idempotent; call on start-up and on each reload, off the hot path. State
  // gauges of (pool, backend) pairs absent from `pools` are removed from the scrape; their
  // counters stay. Thread-safe.
  std::shared_ptr<const metrics_binding> bind(const std::vector<pool_binding>& pools);

  // Same for tally_cluster_peer_up: creates gauges for these peer ids, removes the others.
  void bind_peers(const std::vector<std::string>& peer_ids);

  // Name-keyed access for components that outlive snapshots (health checkers). Creates on first
  // use; the reference is valid for the metrics object's life. Takes a lock: not per request.
  pool_metrics& pool(std::string_view pool);
  backend_metrics& backend(std::string_view pool, std::string_view backend);

  // Runs at the start of every scrape(), before serialization, on the scraping thread; it should
  // call the set_* methods below from the live state. Set it once before the first scrape.
  void set_refresher(std::function<void(metrics&)> refresher);

  // State gauges. Ignored for a (pool, backend) or peer not in the latest bind. Thread-safe.
  void set_backend_state(std::string_view pool, std::string_view backend,
                         const backend_state& state);
  void set_peer_up(std::string_view peer, bool up);
  void set_downstream_connections(std::int64_t connections) noexcept;
  void set_checkpoint_last_success(std::chrono::system_clock::time_point when) noexcept;
  // tally_access_log_dropped_total: the access log keeps the running total (moved up to it).
  void set_access_log_dropped(std::uint64_t total);
  // tally_cluster_messages_rejected_total{reason}: the cluster keeps the running totals, so the
  // counter is moved up to `total` (never down).
  void set_cluster_rejections(std::string_view reason, std::uint64_t total);

  // Event counters (result="success"|"failure"). A successful checkpoint write also sets
  // tally_checkpoint_last_success_timestamp_seconds to now, a successful reload
  // tally_config_last_reload_success_timestamp_seconds (also set when the metrics are created,
  // at start-up with the first config). Lock-free.
  void count_config_reload(bool success) noexcept;
  void count_checkpoint_write(bool success) noexcept;
  void count_checkpoint_restore(bool success) noexcept;
  // tally_accept_errors_total{listener,reason} += 1: listener "proxy" or "admin", reason from
  // accept_error_reasons (anything else counts as "other"). Lock-free.
  void count_accept_error(std::string_view listener, std::string_view reason) noexcept;
  // tally_discovery_updates_total{pool,source,result}; takes the family's lock (not per request).
  void count_discovery_update(std::string_view pool, std::string_view source, bool success);
  // tally_tls_handshakes_total{listener,result}: {success, failure} counters for `listener`,
  // looked up once when a listener's TLS is built, then incremented lock-free.
  std::array<prometheus::Counter*, 2> tls_handshake_counters(std::string_view listener);

  // Runs the refresher, then serializes every family in the Prometheus text format 0.0.4
  // (Content-Type: text/plain; version=0.0.4; charset=utf-8). Safe concurrently with counting.
  std::string scrape() const;

  // For tests and for components that want to register their own families alongside.
  prometheus::Registry& registry() noexcept { return *registry_; }

 private:
  struct backend_gauges {
    prometheus::Gauge* up;
    prometheus::Gauge* local_up;
    prometheus::Gauge* votes_down;
    prometheus::Gauge* active_requests;
    prometheus::Gauge* drained;
    prometheus::Gauge* ejected;
    prometheus::Gauge* weight;
    prometheus::Gauge* queue_length;
  };
  void refresh_process_families() const;

  pool_metrics& pool_locked(std::string_view pool);
  backend_metrics& backend_locked(std::string_view pool, std::string_view backend);
  static std::string backend_key(std::string_view pool, std::string_view backend);

  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& upstream_requests_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Gauge>& backend_up_;
  prometheus::Family<prometheus::Gauge>& backend_local_up_;
  prometheus::Family<prometheus::Gauge>& backend_votes_down_;
  prometheus::Family<prometheus::Gauge>& backend_active_requests_;
  prometheus::Family<prometheus::Gauge>& backend_queue_length_;
  prometheus::Family<prometheus::Gauge>& downstream_connections_family_;
  prometheus::Family<prometheus::Counter>& config_reloads_;
  prometheus::Family<prometheus::Counter>& checkpoint_writes_;
  prometheus::Family<prometheus::Counter>& checkpoint_restores_;
  prometheus::Family<prometheus::Gauge>& checkpoint_last_success_family_;
  prometheus::Family<prometheus::Gauge>& peer_up_;
  prometheus::Family<prometheus::Counter>& health_checks_;
  prometheus::Family<prometheus::Counter>& cluster_rejections_;
  prometheus::Family<prometheus::Gauge>& backend_drained_;
  prometheus::Family<prometheus::Gauge>& backend_ejected_;
  prometheus::Family<prometheus::Gauge>& backend_weight_;
  prometheus::Family<prometheus::Counter>& downstream_bytes_;
  prometheus::Family<prometheus::Gauge>& last_reload_success_family_;
  prometheus::Family<prometheus::Counter>& access_log_dropped_family_;
  prometheus::Family<prometheus::Gauge>& build_info_family_;
  prometheus::Family<prometheus::Gauge>& process_resident_family_;
  prometheus::Family<prometheus::Counter>& process_cpu_family_;
  prometheus::Family<prometheus::Gauge>& process_open_fds_family_;
  prometheus::Family<prometheus::Gauge>& process_max_fds_family_;
  prometheus::Family<prometheus::Gauge>& process_start_family_;
  prometheus::Family<prometheus::Counter>& accept_errors_;
  prometheus::Family<prometheus::Counter>& discovery_updates_;
  prometheus::Family<prometheus::Counter>& tls_handshakes_;

  prometheus::Gauge& downstream_connections_;
  prometheus::Gauge& checkpoint_last_success_;
  prometheus::Counter& bytes_in_;
  prometheus::Counter& bytes_out_;
  prometheus::Gauge& last_reload_success_;
  prometheus::Counter& access_log_dropped_;
  prometheus::Gauge& process_resident_;
  prometheus::Counter& process_cpu_;
  prometheus::Gauge& process_open_fds_;
  prometheus::Gauge& process_max_fds_;
  std::array<prometheus::Counter*, 2> config_reload_counters_{};       // [0] success, [1] failure
  std::array<prometheus::Counter*, 2> checkpoint_write_counters_{};    // ditto
  std::array<prometheus::Counter*, 2> checkpoint_restore_counters_{};  // ditto
  // [listener][reason], indexed like accept_listeners and accept_error_reasons.
  std::array<std::array<prometheus::Counter*, accept_error_reasons.size()>, accept_listeners.size()>
      accept_error_counters_{};

  mutable std::mutex mutex_;  // guards everything below
  std::map<std::string, std::unique_ptr<pool_metrics>, std::less<>> pools_;
  std::map<std::string, std::unique_ptr<backend_metrics>, std::less<>> backends_;
  std::map<std::string, backend_gauges, std::less<>> backend_gauges_;   // currently bound only
  std::map<std::string, prometheus::Gauge*, std::less<>> peer_gauges_;  // currently bound only
  std::map<std::string, prometheus::Counter*, std::less<>> rejection_counters_;
  std::function<void(metrics&)> refresher_;
};

}  // namespace tally::proxy
