// The body of POST /cluster/votes: one replica's whole view, sent every gossip round.
//   {"node": "lb-1", "incarnation": "<16 hex digits>", "seq": 42, "hlc":
//   {"ms":..,"c":..,"node":..},
//    "votes": [{"pool": "web", "backend": "127.0.0.1:9001", "up": true, "since_ms":
//    1700000000000}], "changes": [<admin_change>, ...]}
// The incarnation is a string because a random 64-bit number does not survive JSON parsers that
// read numbers as doubles. Decoding validates types and bounds strictly, tolerates unknown keys
// (a newer replica may add fields during a rolling upgrade) and never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tally/cluster/admin_changes.hpp"
#include "tally/cluster/hlc.hpp"
#include "tally/cluster/vote_table.hpp"

namespace tally::cluster {

struct message_limits {
  static constexpr std::size_t max_body_bytes = std::size_t{256} * 1024;
  static constexpr std::size_t max_votes = 10000;
  static constexpr std::size_t max_changes = 10000;
  static constexpr std::size_t max_string_bytes = 512;
};

struct votes_message {
  sender_position from;  // node, incarnation, seq
  hlc_timestamp hlc;
  std::vector<peer_vote> votes;
  std::vector<admin_change> changes;
};

std::string encode(const votes_message& m);

struct decode_result {
  std::optional<votes_message> message;
  std::string error;  // set when message is empty: what was wrong, for the 400 body and logs
};

decode_result decode_votes_message(std::string_view body) noexcept;

}  // namespace tally::cluster
