// The metric family names of SPEC "Metrics", written out once for every test that checks them
// (deliberately not taken from tally's code: the tests hold the code to the contract).
#pragma once

#include <array>
#include <string_view>

namespace tally::test {

inline constexpr std::array<std::string_view, 16> spec_metric_families{
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
};

}  // namespace tally::test
