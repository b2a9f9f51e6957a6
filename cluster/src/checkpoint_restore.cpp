#include "tally/cluster/checkpoint_restore.hpp"

#include <limits>
#include <map>
#include <utility>

#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_file.hpp"

namespace tally::cluster {

namespace {

checkpoint_restore_result failed(std::string message) {
  checkpoint_restore_result result;
  result.status = checkpoint_restore_status::failure;
  result.message = std::move(message);
  return result;
}

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::optional<std::string> check_checkpoint_clock(const checkpoint_state& state,
                                                  std::chrono::system_clock::time_point now,
                                                  std::chrono::milliseconds max_clock_offset) {
  // decode_checkpoint keeps every physical_ms within int64; now + offset is far from overflow
  // for any real clock, but a test clock may sit anywhere, so compare without adding.
  const std::int64_t now_ms = unix_ms(now);
  const auto too_far = [&](std::uint64_t ms) {
    return ms > std::uint64_t(std::numeric_limits<std::int64_t>::max()) ||
           (now_ms >= 0 && std::int64_t(ms) - now_ms > max_clock_offset.count());
  };
  const auto problem = [&](const std::string& where, std::uint64_t ms) {
    return where + ": " + std::to_string(ms) + " is " + std::to_string(std::int64_t(ms) - now_ms) +
           "ms ahead of this replica's clock (cluster.max_clock_offset " +
           std::to_string(max_clock_offset.count()) +
           "ms); fix the clock of the replica that wrote it, or of this one";
  };
  if (too_far(state.hlc.physical_ms)) return problem("hlc.physical_ms", state.hlc.physical_ms);
  for (std::size_t p = 0; p < state.pools.size(); ++p)
    for (std::size_t b = 0; b < state.pools[p].backends.size(); ++b) {
      const auto& stamp = state.pools[p].backends[b].admin_hlc;
      if (stamp && too_far(stamp->physical_ms))
        return problem("pools[" + std::to_string(p) + "].backends[" + std::to_string(b) +
                           "].admin_hlc.physical_ms",
                       stamp->physical_ms);
    }
  return std::nullopt;
}

const checkpoint_backend* checkpoint_restore_result::find(std::string_view pool,
                                                          std::string_view address) const noexcept {
  for (const auto& entry : backends)
    if (entry.pool == pool && entry.saved.address == address) return &entry.saved;
  return nullptr;
}

checkpoint_restore_result match_checkpoint(const checkpoint_state& state,
                                           const checkpoint_config_table& table) {
  // (pool, address) → saved entry; if a file somehow lists one twice, the first wins.
  std::map<std::pair<std::string_view, std::string_view>, const checkpoint_backend*> saved;
  std::size_t saved_count = 0;
  for (const auto& pool : state.pools)
    for (const auto& backend : pool.backends) {
      ++saved_count;
      saved.try_emplace({pool.name, backend.address}, &backend);
    }

  checkpoint_restore_result result;
  result.status = checkpoint_restore_status::restored;
  result.node_id = state.node_id;
  result.config_hash = state.config_hash;
  result.hlc = state.hlc;
  result.written_at_ms = state.written_at_ms;
  for (const auto& pool : table.pools)
    for (const auto& address : pool.addresses) {
      const auto it = saved.find({pool.name, address});
      if (it == saved.end() || !it->second) {
        ++result.not_in_file;
        continue;
      }
      result.backends.push_back({pool.name, *it->second});
      it->second = nullptr;  // a config listing it twice gets it once
    }
  result.dropped = saved_count - result.backends.size();
  result.message = "restored " + std::to_string(result.backends.size()) + " backends from node " +
                   state.node_id + " (" + std::to_string(result.dropped) +
                   " saved entries no longer configured, " + std::to_string(result.not_in_file) +
                   " configured backends not in the checkpoint)";
  return result;
}

checkpoint_restore_result match_checkpoint(const checkpoint_load_result& loaded,
                                           const checkpoint_config_table& table) {
  if (loaded.state) return match_checkpoint(*loaded.state, table);
  checkpoint_restore_result result;
  result.status = loaded.status == checkpoint_restore_status::restored
                      ? checkpoint_restore_status::failure  // restored without a state: a bug
                      : loaded.status;
  result.message = loaded.message;
  result.moved_to = loaded.moved_to;
  return result;
}

checkpoint_restore_result restore_checkpoint_from_bytes(
    std::string_view bytes, const checkpoint_config_table& table) noexcept {
  return restore_checkpoint_from_bytes(bytes, table, std::chrono::system_clock::now(),
                                       checkpoint_default_max_clock_offset);
}

checkpoint_restore_result restore_checkpoint_from_bytes(
    std::string_view bytes, const checkpoint_config_table& table,
    std::chrono::system_clock::time_point now,
    std::chrono::milliseconds max_clock_offset) noexcept {
  try {
    return match_checkpoint(load_checkpoint_from_bytes(bytes, now, max_clock_offset), table);
  } catch (...) {
    return failed("checkpoint from peer rejected: out of memory");
  }
}

checkpoint_load_result load_checkpoint_from_bytes(
    std::string_view bytes, std::chrono::system_clock::time_point now,
    std::chrono::milliseconds max_clock_offset) noexcept {
  checkpoint_load_result result;
  try {
    auto decoded = decode_checkpoint(bytes);
    if (!decoded) {
      result.message = "checkpoint from peer rejected: " + decoded.error;
    } else if (auto problem = check_checkpoint_clock(*decoded.state, now, max_clock_offset)) {
      result.message = "checkpoint from peer rejected: " + *problem;
    } else {
      result.status = checkpoint_restore_status::restored;
      result.state = std::move(decoded.state);
    }
  } catch (...) {
    result.status = checkpoint_restore_status::failure;
    result.state.reset();
    result.message = "checkpoint from peer rejected: out of memory";
  }
  return result;
}

checkpoint_restore_result restore_checkpoint(const std::filesystem::path& path,
                                             const checkpoint_config_table& table,
                                             std::chrono::system_clock::time_point now) noexcept {
  return restore_checkpoint(path, table, now, checkpoint_default_max_clock_offset);
}

checkpoint_restore_result restore_checkpoint(const std::filesystem::path& path,
                                             const checkpoint_config_table& table,
                                             std::chrono::system_clock::time_point now,
                                             std::chrono::milliseconds max_clock_offset) noexcept {
  try {
    return match_checkpoint(load_checkpoint(path, now, max_clock_offset), table);
  } catch (...) {
    return failed("cannot restore checkpoint " + path.string() + ": out of memory");
  }
}

checkpoint_load_result load_checkpoint(const std::filesystem::path& path,
                                       std::chrono::system_clock::time_point now,
                                       std::chrono::milliseconds max_clock_offset) noexcept {
  checkpoint_load_result result;
  try {
    auto read = read_checkpoint_file(path);
    if (read.status == checkpoint_read_status::missing) {
      result.status = checkpoint_restore_status::no_file;
      result.message = "no checkpoint at " + path.string() + "; starting from the config";
      return result;
    }
    if (read.status == checkpoint_read_status::error) {
      result.message = read.error + "; starting from the config";
      return result;
    }

    auto decoded = decode_checkpoint(read.bytes);
    std::string problem = decoded.error;
    if (decoded) {
      auto clock_problem = check_checkpoint_clock(*decoded.state, now, max_clock_offset);
      if (!clock_problem) {
        result.status = checkpoint_restore_status::restored;
        result.state = std::move(decoded.state);
        return result;
      }
      problem = std::move(*clock_problem);
    }

    result.message = "checkpoint " + path.string() + " is unusable: " + problem;
    std::string move_error;
    result.moved_to = move_checkpoint_aside(path, now, move_error);
    if (result.moved_to)
      result.message += "; moved aside to " + result.moved_to->string();
    else
      result.message += "; " + move_error;
    result.message += "; starting from the config";
    return result;
  } catch (...) {
    result.status = checkpoint_restore_status::failure;
    result.state.reset();
    result.message = "cannot restore checkpoint " + path.string() + ": out of memory";
    return result;
  }
}

}  // namespace tally::cluster
