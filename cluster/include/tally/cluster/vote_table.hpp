// The verdict logic, free of I/O: the latest vote of every node (self included) for every backend,
// stamped with the local time it arrived, and the quorum rule of SPEC "Health, votes and
// checkpoints". With N = 1 + peers and Q = N/2 + 1 a backend goes DOWN on >= Q fresh down votes,
// UP on >= Q fresh up votes, and otherwise keeps its previous verdict, so a partitioned replica
// holds the last agreed state. Not thread-safe: the owner (cluster_node) serialises calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tally/cluster/common.hpp"
#include "tally/cluster/hlc.hpp"

namespace tally::cluster {

// Who sent a message and where it sits in that sender's life: `incarnation` is drawn at process
// start, `seq` grows by one per gossip round. Together they make replays detectable.
struct sender_position {
  std::string node;
  std::uint64_t incarnation = 0;
  std::uint64_t seq = 0;
};

struct peer_vote {
  backend_key key;
  bool up = true;
  std::int64_t since_ms =
      0;  // sender's wall clock when its local state last changed (display only)
};

struct verdict_change {
  backend_key key;
  bool up = true;
};

// stale_incarnation: a different incarnation than the live one, but not newer than it (see
// accept()); the live peer keeps its place.
enum class accept_result { accepted, replayed, unknown_node, stale_incarnation };

struct vote_detail {
  std::string node;
  bool up = true;
  std::int64_t since_ms = 0;
  std::chrono::milliseconds age{0};  // since this replica received it
  bool fresh = false;
};

struct backend_votes {
  bool verdict = true;
  unsigned fresh_up = 0;
  unsigned fresh_down = 0;
  std::vector<vote_detail> votes;  // in node order: self first, then peers as configured
};

class vote_table {
 public:
  vote_table(std::string self, std::vector<std::string> peers, std::chrono::milliseconds ttl,
             steady_clock_fn clock = default_steady_now);

  std::size_t nodes() const noexcept { return 1 + peers_.size(); }
  std::size_t quorum() const noexcept { return nodes() / 2 + 1; }

  // The backends this replica routes to, with the verdict each starts from when it is new.
  // Backends that remain keep their votes and verdict; removed ones are forgotten.
  void set_backends(const std::vector<std::pair<backend_key, bool>>& backends);

  // This replica's own check result, received "now".
  void record_local(const backend_key& key, bool up, std::int64_t since_ms);

  // A peer's message. Accepted only from a configured peer and only when (incarnation, seq) is
  // newer than the last accepted from it; a new incarnation (the peer restarted) replaces the
  // old one unless it is one of the peer's recently retired incarnations (a replay).
  // Votes for backends this replica does not route to are ignored and counted.
  accept_result accept(const sender_position& from, const std::vector<peer_vote>& votes);
  // The same, for a message stamped `stamp` (its HLC). A new incarnation retires the current one
  // only when that one is no longer live (nothing accepted from it within the vote ttl) or the
  // message is stamped after the last one accepted from it: a captured or forged message with a
  // made-up incarnation cannot then lock out a peer that is still talking. A restarted peer
  // is accepted as soon as its clock passes its previous life's last stamp, or after a ttl of
  // silence from that life. (The caller bounds stamps by max_clock_offset first.)
  accept_result accept(const sender_position& from, const hlc_timestamp& stamp,
                       const std::vector<peer_vote>& votes);

  // Re-evaluates every backend; returns the verdicts that changed.
  std::vector<verdict_change> compute();

  std::optional<bool> verdict(const backend_key& key) const;
  std::optional<backend_votes> details(const backend_key& key) const;
  // Fresh down votes for the backend (metric tally_backend_votes_down); 0 when unknown.
  unsigned votes_down(const backend_key& key) const;
  std::vector<backend_key> keys() const;

  std::uint64_t ignored_unknown_backend() const noexcept { return ignored_unknown_backend_; }
  std::uint64_t ignored_replayed() const noexcept { return ignored_replayed_; }
  std::uint64_t ignored_unknown_node() const noexcept { return ignored_unknown_node_; }
  std::uint64_t ignored_stale_incarnation() const noexcept { return ignored_stale_incarnation_; }

 private:
  struct vote {
    bool up = true;
    std::int64_t since_ms = 0;
    steady_time received{};
  };
  struct backend_state {
    bool verdict = true;
    std::map<std::string, vote> votes;  // by node id
  };
  struct node_position {
    bool seen = false;
    std::uint64_t incarnation = 0;
    std::uint64_t seq = 0;
    std::deque<std::uint64_t> retired;        // bounded: last few incarnations this node had
    std::optional<hlc_timestamp> last_stamp;  // of the last accepted message, when it had one
    steady_time last_accepted{};
  };

  accept_result accept_from(const sender_position& from, const hlc_timestamp* stamp,
                            const std::vector<peer_vote>& votes);

  bool fresh(const vote& v, steady_time now) const { return now - v.received < ttl_; }
  std::vector<std::string> node_order() const;

  std::string self_;
  std::vector<std::string> peers_;
  std::chrono::milliseconds ttl_;
  steady_clock_fn clock_;
  std::map<backend_key, backend_state> backends_;
  std::map<std::string, node_position> positions_;
  std::uint64_t ignored_unknown_backend_ = 0;
  std::uint64_t ignored_replayed_ = 0;
  std::uint64_t ignored_unknown_node_ = 0;
  std::uint64_t ignored_stale_incarnation_ = 0;
};

}  // namespace tally::cluster
