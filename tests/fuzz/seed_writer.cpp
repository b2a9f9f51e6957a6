// Writes seed inputs for the cluster_message and checkpoint harnesses with the real encoders, so
// the seeds are exactly what a peer sends or a replica writes. Run by hand when the formats
// change:  build-fuzz/tests/fuzz/fuzz_seed_writer tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/message.hpp"

using namespace tally::cluster;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

votes_message message(std::size_t votes, std::size_t changes) {
  votes_message m;
  m.from = {"lb-1", 0xfedcba9876543210ull, 42};
  m.hlc = {1'700'000'000'000, 3, "lb-1"};
  for (std::size_t i = 0; i < votes; ++i)
    m.votes.push_back({{i % 2 ? "api" : "web", "127.0.0.1:" + std::to_string(9001 + i)},
                       i % 3 != 0,
                       1'700'000'000'000 - static_cast<std::int64_t>(i) * 1000});
  for (std::size_t i = 0; i < changes; ++i)
    m.changes.push_back(
        {{"web", "127.0.0.1:" + std::to_string(9001 + i)},
         i % 2 ? change_field::weight : change_field::drained,
         static_cast<std::uint32_t>(i % 2 ? 7 : 1),
         {1'700'000'000'000 + static_cast<std::int64_t>(i), 1, i % 2 ? "lb-1" : "lb-2"}});
  return m;
}

checkpoint_state checkpoint(std::size_t pools, std::size_t per_pool, unsigned seed) {
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
      backend.address = "10." + std::to_string(p) + ".0." + std::to_string(b + 1) + ":8080";
      backend.weight = static_cast<std::uint32_t>((b + seed) % 9);
      backend.drained = (b + seed) % 4 == 0;
      backend.verdict_up = (b + seed) % 3 != 0;
      backend.verdict_since_ms = 1764134000000 + static_cast<std::int64_t>(b * 1000 + seed);
      if ((b + seed) % 2 == 0)
        backend.admin_hlc = checkpoint_admin_stamp{1764134090000ull + b,
                                                   static_cast<std::uint32_t>(b % 5), "tally-b"};
      pool.backends.push_back(std::move(backend));
    }
    state.pools.push_back(std::move(pool));
  }
  return state;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  write(root / "cluster_message" / "empty_view.json", encode(message(0, 0)));
  write(root / "cluster_message" / "two_votes.json", encode(message(2, 0)));
  write(root / "cluster_message" / "votes_and_changes.json", encode(message(3, 2)));
  auto odd = message(1, 1);
  odd.from.node = "n\u00e9\"\\\x01";  // escapes survive a round trip
  odd.hlc.node = odd.from.node;
  write(root / "cluster_message" / "escaped_names.json", encode(odd));

  write(root / "checkpoint" / "no_pools.json", encode_checkpoint(checkpoint(0, 0, 1)));
  write(root / "checkpoint" / "one_pool.json", encode_checkpoint(checkpoint(1, 2, 2)));
  write(root / "checkpoint" / "two_pools.json", encode_checkpoint(checkpoint(2, 3, 1)));
  // Pools whose backends came from etcd and from DNS, with their discovered sets.
  auto discovered = checkpoint(2, 2, 3);
  discovered.pools[0].discovery =
      checkpoint_discovery{"etcd", 42, {{"10.0.0.1:8080", 2}, {"10.0.0.2:8080", 0}}};
  discovered.pools[1].discovery = checkpoint_discovery{"dns", 0, {{"[::1]:8080", 1}}};
  write(root / "checkpoint" / "discovered_pools.json", encode_checkpoint(discovered));
  return 0;
}
