// The metric family names of SPEC "Metrics", written out once for every test that checks them
// (deliberately not taken from tally's code: the tests hold the code to the contract).
#pragma once

#include <array>
#include <string_view>

namespace tally::test {

// Every family but tally_tls_handshakes_total, which waits for TLS (issue 14).
inline constexpr auto spec_metric_families = std::to_array<std::string_view>({
    "tally_requests_total",
    "tally_request_duration_seconds",
    "tally_upstream_requests_total",
    "tally_retries_total",
    "tally_backend_up",
    "tally_backend_local_up",
    "tally_backend_votes_down",
    "tally_backend_active_requests",
    "tally_backend_queue_length",
    "tally_downstream_connections",
    "tally_config_reloads_total",
    "tally_checkpoint_writes_total",
    "tally_checkpoint_restores_total",
    "tally_checkpoint_last_success_timestamp_seconds",
    "tally_cluster_peer_up",
    "tally_health_checks_total",
    "tally_discovery_updates_total",
    "tally_build_info",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "tally_downstream_bytes_total",
    "tally_upstream_duration_seconds",
    "tally_backend_drained",
    "tally_backend_ejected",
    "tally_backend_weight",
    "tally_config_last_reload_success_timestamp_seconds",
    "tally_access_log_dropped_total",
    "tally_accept_errors_total",
    "tally_cluster_messages_rejected_total",
});

}  // namespace tally::test
