// Start-up side of checkpoints: read the file (or a peer's body), keep what still applies to the
// running config, and set a bad file aside instead of refusing to start.
//
// Matching is per backend by (pool name, address): entries for backends no longer in the config
// are dropped (and counted), backends new in the config simply get no entry. A different
// config_hash is not an error, since configs change between runs; the saved hash is returned
// for the log line.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tally/cluster/checkpoint_state.hpp"

namespace tally::cluster {

// The backends of the running config, to match the saved ones against.
struct checkpoint_config_pool {
  std::string name;
  std::vector<std::string> addresses;  // spelled exactly like checkpoint_backend::address
};

struct checkpoint_config_table {
  std::vector<checkpoint_config_pool> pools;
};

struct checkpoint_restored_backend {
  std::string pool;
  checkpoint_backend saved;  // weight, drained, verdict and since, admin HLC
};

enum class checkpoint_restore_status {
  restored,  // the file was valid; `backends` holds the matches (possibly none)
  no_file,   // nothing to restore: not an error; start from the config (or ask a peer)
  failure,   // unreadable, corrupt or unsupported: `message` says why; start from the config
};

struct checkpoint_restore_result {
  checkpoint_restore_status status = checkpoint_restore_status::failure;
  std::string message;  // failure: the reason, with the path; restored: a one-line summary
  std::optional<std::filesystem::path> moved_to;  // where a corrupt file was set aside

  // Set when restored.
  std::string node_id;      // who wrote it (a peer's id when bootstrapping)
  std::string config_hash;  // of the config it was written under
  checkpoint_hlc hlc;       // the local clock must start above this
  std::int64_t written_at_ms = 0;
  std::vector<checkpoint_restored_backend> backends;  // in checkpoint_config_table order
  std::size_t dropped = 0;      // saved entries whose backend (or pool) left the config
  std::size_t not_in_file = 0;  // configured backends without a saved entry

  const checkpoint_backend* find(std::string_view pool, std::string_view address) const noexcept;
};

// A checkpoint is a claim about the past: its HLC stamps may not be further ahead of this
// replica's clock than `max_clock_offset` (cluster.max_clock_offset), or one poisoned stamp
// would outrank every later admin change and survive every restart. Returns what is wrong
// ("pools[0].backends[1].admin_hlc.physical_ms: ..."), or nothing when all is in range.
std::optional<std::string> check_checkpoint_clock(const checkpoint_state& state,
                                                  std::chrono::system_clock::time_point now,
                                                  std::chrono::milliseconds max_clock_offset);

// The default bound, for the overloads without one (cluster.max_clock_offset's default).
inline constexpr std::chrono::milliseconds checkpoint_default_max_clock_offset{500};

// Reads `path`. Missing → no_file. Unreadable → failure, the file stays where it is (it may be
// fine, e.g. permissions). Empty, truncated, unparsable, wrong version, bad checksum → failure,
// and the file is renamed to `<path>.corrupt-<UTC stamp of now>`. Values out of range (see
// decode_checkpoint and check_checkpoint_clock) are corruption too. Never throws.
checkpoint_restore_result restore_checkpoint(const std::filesystem::path& path,
                                             const checkpoint_config_table& table,
                                             std::chrono::system_clock::time_point now,
                                             std::chrono::milliseconds max_clock_offset) noexcept;
// With checkpoint_default_max_clock_offset.
checkpoint_restore_result restore_checkpoint(
    const std::filesystem::path& path, const checkpoint_config_table& table,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) noexcept;

// The same checks and matching for a body fetched from a peer (GET /cluster/checkpoint);
// nothing to move. Bodies over max_checkpoint_bytes are refused.
checkpoint_restore_result restore_checkpoint_from_bytes(
    std::string_view bytes, const checkpoint_config_table& table,
    std::chrono::system_clock::time_point now, std::chrono::milliseconds max_clock_offset) noexcept;
// With the system clock and checkpoint_default_max_clock_offset.
checkpoint_restore_result restore_checkpoint_from_bytes(
    std::string_view bytes, const checkpoint_config_table& table) noexcept;

// Matching only, for a state already decoded.
checkpoint_restore_result match_checkpoint(const checkpoint_state& state,
                                           const checkpoint_config_table& table);

// restore_checkpoint in two halves, for a caller that needs the file's content before it can
// build the table to match against (the app overlays the discovered sets on its config first).
// load_* does the reading and every check, and sets a bad file aside, exactly as restore_* does;
// `state` is set when status is restored.
struct checkpoint_load_result {
  checkpoint_restore_status status = checkpoint_restore_status::failure;
  std::string message;                            // for no_file and failure
  std::optional<std::filesystem::path> moved_to;  // where a corrupt file was set aside
  std::optional<checkpoint_state> state;
};
checkpoint_load_result load_checkpoint(const std::filesystem::path& path,
                                       std::chrono::system_clock::time_point now,
                                       std::chrono::milliseconds max_clock_offset) noexcept;
checkpoint_load_result load_checkpoint_from_bytes(
    std::string_view bytes, std::chrono::system_clock::time_point now,
    std::chrono::milliseconds max_clock_offset) noexcept;
// The second half: the match of a loaded state, or the load's no_file or failure as it was.
checkpoint_restore_result match_checkpoint(const checkpoint_load_result& loaded,
                                           const checkpoint_config_table& table);

}  // namespace tally::cluster
