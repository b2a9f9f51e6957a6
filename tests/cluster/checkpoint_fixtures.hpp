// Shared helpers for the checkpoint tests: a self-removing temp directory, sample states and
// whole-file reads/writes.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "tally/cluster/checkpoint_state.hpp"

namespace tally::cluster::testing {

class temp_dir {
 public:
  temp_dir() {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("tally-checkpoint-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
             "-" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// `pools` pools of `per_pool` backends with varied values; `seed` changes the values.
inline checkpoint_state sample_state(std::size_t pools = 2, std::size_t per_pool = 3,
                                     unsigned seed = 1) {
  checkpoint_state state;
  state.node_id = "tally-a";
  state.config_hash = "3f2a9c0d5e6b7a8190aabbccddeeff00112233445566778899aabbccddeeff00";
  state.hlc = {1764134100000ull + seed, seed % 7};
  state.written_at_ms = 1764134100123 + seed;
  for (std::size_t p = 0; p < pools; ++p) {
    checkpoint_pool pool;
    pool.name = p == 0 ? "web" : "pool-" + std::to_string(p);
    for (std::size_t b = 0; b < per_pool; ++b) {
      checkpoint_backend backend;
      backend.address = "10." + std::to_string(p) + "." + std::to_string(b / 250) + "." +
                        std::to_string(b % 250 + 1) + ":8080";
      backend.weight = static_cast<std::uint32_t>((b + seed) % 9);
      backend.drained = (b + seed) % 4 == 0;
      backend.verdict_up = (b + seed) % 3 != 0;
      backend.verdict_since_ms = 1764134000000 + static_cast<std::int64_t>(b * 1000 + seed);
      if ((b + seed) % 2 == 0)
        backend.admin_hlc =
            checkpoint_admin_stamp{1764134090000ull + b, static_cast<std::uint32_t>(b % 5),
                                   b % 3 == 0 ? "tally-b" : "tally-a"};
      pool.backends.push_back(std::move(backend));
    }
    state.pools.push_back(std::move(pool));
  }
  return state;
}

inline std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_whole_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// 2026-11-26T05:15:00Z, so corrupt-file names are predictable.
inline std::chrono::system_clock::time_point fixed_now() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1795670100));
}

}  // namespace tally::cluster::testing
