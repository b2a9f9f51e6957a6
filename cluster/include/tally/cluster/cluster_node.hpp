// One replica's membership in the cluster: the facade the app and the admin server use. It owns
// the vote table, the replicated admin changes, the hybrid clock and the gossip client, and runs
// a round every gossip_interval on the given io_context (the control loop):
//   read each backend's local_up() as this replica's vote -> recompute verdicts -> set_up() on the
//   backends whose verdict changed (one log line each) -> POST the view to every peer.
// Received messages are applied at once (verdicts can flip on receipt, not only on our round).
// Every public member is thread-safe: one mutex guards the state, and nothing is done under it
// except bookkeeping (no I/O).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "tally/balancer/backend.hpp"
#include "tally/cluster/admin_changes.hpp"
#include "tally/cluster/common.hpp"
#include "tally/cluster/gossip.hpp"
#include "tally/config/config.hpp"

namespace tally::cluster {

struct pool_backend {
  std::string pool;
  std::shared_ptr<balancer::backend> backend;  // key = (pool, backend->address())
};

// drain / enable / weight, as the admin endpoints receive them.
struct admin_mutation {
  change_field field = change_field::drained;
  std::uint32_t value = 0;
  static admin_mutation drain() { return {change_field::drained, 1}; }
  static admin_mutation enable() { return {change_field::drained, 0}; }
  static admin_mutation weight(std::uint32_t w) { return {change_field::weight, w}; }
};

struct votes_reply {
  // 200 (accepted, or a harmless duplicate: "accepted": false with a "reason"), 400 malformed
  // body, 401 missing or bad X-Tally-Signature, 409 stamped too far ahead of this replica's
  // clock or signed too long ago. Nothing changes unless accepted.
  unsigned status = 200;
  std::string body;  // JSON
};

struct peer_status {
  std::string id;
  std::string address;
  bool up = false;  // a successful exchange within vote_ttl (tally_cluster_peer_up)
  std::optional<std::chrono::milliseconds> since_success;  // age of the last answered POST
  std::optional<std::chrono::milliseconds> since_heard;    // age of its last accepted message
  std::string last_error;
  bool in_flight = false;  // a POST to it is under way (a round meanwhile skips this peer)
};

struct cluster_counters {
  std::uint64_t rounds = 0;
  std::uint64_t messages_accepted = 0;
  std::uint64_t messages_malformed = 0;
  // seq not newer, a retired incarnation, or signed too long ago
  std::uint64_t messages_replayed = 0;
  std::uint64_t messages_unknown_node = 0;
  std::uint64_t messages_bad_signature = 0;  // missing, malformed or wrong X-Tally-Signature
  std::uint64_t messages_clock_offset = 0;   // HLC or signature more than max_clock_offset ahead
  std::uint64_t messages_stale_incarnation = 0;  // tried to retire a live peer's incarnation
  std::uint64_t votes_unknown_backend = 0;
  std::uint64_t changes_unknown_backend = 0;
  // change records refused (from peers or a checkpoint) for being stamped too far ahead
  std::uint64_t changes_clock_offset = 0;
  std::uint64_t verdict_changes = 0;
};

// One sample of tally_cluster_messages_rejected_total{reason}.
struct rejection_count {
  std::string_view reason;  // malformed | bad_signature | clock_offset | replay |
                            // stale_incarnation | unknown_node
  std::uint64_t count = 0;
};
// Every reason, always in this order (so the metric has all its series from the start).
std::array<rejection_count, 6> rejected_by_reason(const cluster_counters& c) noexcept;

struct node_options {
  steady_clock_fn steady_now = default_steady_now;
  system_ms_fn system_ms = default_system_ms;
  log_fn log;                     // one line per verdict change and peer state change
  std::uint64_t incarnation = 0;  // 0 = drawn at random (normal use); tests pin it
};

class cluster_node {
 public:
  // Without `cluster` the replica is a cluster of one (node id "self", no peers): verdicts follow
  // local_up() at every round. `token` (the admin token) authenticates the peer protocol when
  // not empty: requests to peers carry "Authorization: Bearer" and an X-Tally-Signature, and
  // handle_votes() demands a valid signature. HLC stamps are bounded by
  // cluster->max_clock_offset (default_max_clock_offset without `cluster`).
  cluster_node(net::io_context& ioc, std::optional<config::cluster_config> cluster,
               const std::string& token, node_options options = {});
  ~cluster_node();  // stop()
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  // The backends routed to, at start and after each reload. Backends that remain keep their
  // votes, verdict and admin changes (re-applied to the object given, should it be a new one);
  // new ones start from their current up() (which a checkpoint restore may have set).
  void set_backends(const std::vector<pool_backend>& backends);

  void start();  // first round now, then every gossip_interval
  void stop();   // no more rounds; peer connections closed on the io_context
  // One round now (after a health transition or an admin change, and in tests).
  void run_round();

  // POST /cluster/votes: the body and the request's X-Tally-Signature header value (empty when
  // absent) -> response. With a token set, an unsigned, badly signed, too old or too new
  // request is refused before the body is parsed. The caller may check the Bearer token first.
  votes_reply handle_votes(std::string_view body, std::string_view signature);

  // The admin token changed (reload, token_file rotated, env): sign and verify with this one
  // from now on. Thread-safe.
  void set_token(std::string token);

  // drain / enable / weight from the admin API; false when the pool or backend is unknown.
  // Applied to the backend at once and sent to peers right away.
  bool apply_admin_change(std::string_view pool, std::string_view backend, admin_mutation m);

  // For /status: node, quorum, per-backend verdict and votes, admin changes, counters. The peers
  // are not in it: /status lists them once, at the top level, from peers().
  boost::json::object status_json() const;

  // One backend's entry of status_json()["backends"] (verdict, counts, votes with ages), for
  // embedding in the /status pool listing; null when the backend is unknown.
  boost::json::value backend_votes_json(std::string_view pool, std::string_view backend) const;

  // Metrics: fresh down votes (tally_backend_votes_down), peers (tally_cluster_peer_up).
  unsigned votes_down(std::string_view pool, std::string_view backend) const;
  std::vector<peer_status> peers() const;
  cluster_counters counters() const;
  const std::string& node_id() const noexcept;
  std::uint64_t incarnation() const noexcept;

  // For the checkpoint: the current admin change records, and restoring them at start-up (merged
  // like a peer's, so a newer record already held wins).
  std::vector<admin_change> admin_changes() const;
  void restore_admin_changes(const std::vector<admin_change>& changes);

 private:
  votes_reply handle(std::string_view body, const std::string_view* signature);

  struct state;
  std::shared_ptr<state> state_;  // shared with the round loop coroutine
};

}  // namespace tally::cluster
