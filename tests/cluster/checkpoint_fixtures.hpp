// Shared helpers for the checkpoint tests: sample states, whole-file reads/writes, and a
// checksum computed independently of the codec (temporary directories: support/temp_dir.hpp).
#pragma once

#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <doctest/doctest.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "tally/cluster/checkpoint_state.hpp"

namespace tally::cluster::testing {

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

// SHA-256 without the codec's helper, so a test does not check the codec against itself.
inline std::string independent_sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) == 1);
  std::string out;
  char two[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    out += two;
  }
  return out;
}

// Re-serializes `doc` with a fresh, correct checksum, so a test reaches the schema checks.
inline std::string with_checksum(boost::json::object doc) {
  doc.erase("checksum");
  const auto sum = independent_sha256_hex(boost::json::serialize(doc));
  doc["checksum"] = sum;
  return boost::json::serialize(doc);
}

// 2026-11-26T05:15:00Z, so corrupt-file names are predictable.
inline std::chrono::system_clock::time_point fixed_now() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1795670100));
}

}  // namespace tally::cluster::testing
