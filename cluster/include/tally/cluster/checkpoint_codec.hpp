// The checkpoint file format (format_version 1). The same bytes are the body of
// `GET /cluster/checkpoint`, so a peer's answer is decoded exactly like a local file.
//
// A UTF-8 JSON object; keys always appear in this order (one backend per line):
//
//   {
//     "format_version": 1,
//     "node_id": "tally-a",
//     "config_hash": "<hex sha-256 of the config file>",
//     "hlc": {"physical_ms": 1764134100000, "logical": 3},
//     "written_at_ms": 1764134100123,
//     "pools": [
//       {
//         "name": "web",
//         "backends": [
//           {"address": "10.0.0.1:8080", "weight": 5, "drained": false, "verdict_up": true,
//            "verdict_since_ms": 1764134000000,
//            "admin_hlc": {"physical_ms": 1764134090000, "logical": 0, "node": "tally-b"}},
//           {"address": "10.0.0.2:8080", "weight": 1, "drained": false, "verdict_up": false,
//            "verdict_since_ms": 1764134050000, "admin_hlc": null}
//         ],
//         "discovery": {"source": "etcd", "revision": 42, "backends": [
//           {"address": "10.0.0.1:8080", "weight": 5}, {"address": "10.0.0.2:8080", "weight": 1}
//         ]}
//       }
//     ],
//     "checksum": "<64 lowercase hex digits>"
//   }
//
// "discovery" appears only on a pool whose backends come from a discovery source (etcd or DNS):
// the set it last published, as the source said it (admin changes are in "backends"). A file
// without it is the same format; one with it is refused by a tally older than the key.
//
// Checksum: lowercase hex SHA-256 of the canonical content, which is the whole object without
// the "checksum" key, keys in the order above, serialized compactly as Boost.JSON's serialize()
// prints it: no whitespace at all, integers in plain decimal, `null` for an absent admin_hlc,
// strings escaping only `"`, `\` and control characters. To check a file by hand:
//   jq -cj 'del(.checksum)' tally-state.json | sha256sum
// (or Python: json.dumps(doc_without_checksum, separators=(",", ":"), ensure_ascii=False)).
//
// decode re-creates the canonical content from the values it read (not from the file's bytes),
// so the layout (whitespace) is free but every value, key name and the key set are covered:
// a flipped byte anywhere is either a JSON error, a schema error, a checksum mismatch, or a
// change to insignificant whitespace that leaves the content identical.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tally/cluster/checkpoint_state.hpp"

namespace tally::cluster {

// Bound on a file or peer body we are willing to parse, and on what the proxy reads from a peer.
// 1,000 backends is ~180 KiB, so this holds ~20,000: more than a cluster can gossip about (a
// votes message is capped at 256 KiB, ~3,000 backends), while a hostile peer can make a replica
// hold no more than a few MiB at start-up.
inline constexpr std::size_t max_checkpoint_bytes = 4u << 20;

struct checkpoint_decode_result {
  std::optional<checkpoint_state> state;  // set on success
  std::string error;                      // why not, for a log line; empty on success

  explicit operator bool() const noexcept { return state.has_value(); }
};

// The file bytes for a state, checksum included. Only allocation failure can throw.
std::string encode_checkpoint(const checkpoint_state& state);

// Validates everything (JSON, format version, field types and ranges: weight 0..1000, HLC
// milliseconds within int64, strings of at most 512 bytes, non-empty node ids; a discovered
// set's source "etcd" or "dns", revision within int64, addresses host:port with a port from 1 to
// 65535 and none twice; checksum);
// never throws. Checks against the clock are the restore's (checkpoint_restore.hpp).
checkpoint_decode_result decode_checkpoint(std::string_view bytes) noexcept;

// The checksum over a state's canonical content (exposed for tests and tooling).
std::string checkpoint_checksum(const checkpoint_state& state);

}  // namespace tally::cluster
