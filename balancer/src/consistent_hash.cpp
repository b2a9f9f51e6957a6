#include "consistent_hash.hpp"

#include <algorithm>
#include <stdexcept>

#include "tally/balancer/hash.hpp"

namespace tally::balancer {
namespace {

// One backend's progress through its permutation while the table fills.
struct claimant {
  std::uint16_t index;   // into the backend list
  std::uint64_t weight;  // turns per round, relative to the heaviest backend
  std::uint64_t offset;  // first slot of its permutation
  std::uint64_t skip;    // step of its permutation, in [1, M-1]: coprime with prime M
  std::uint64_t next = 0;
  std::uint64_t target = 0;  // next round at which it claims another slot
};

// Arbitrary, fixed seeds: the two hashes must be independent of each other and identical on
// every replica and across restarts.
constexpr std::uint64_t offset_seed = 0x6d61676c65762d6fULL;
constexpr std::uint64_t skip_seed = 0x6d61676c65762d73ULL;

}  // namespace

consistent_hash::consistent_hash(const backend_list& backends)
    : backends_(backends), in_table_(backends.size(), false) {
  if (backends_.size() >= no_backend)
    throw std::invalid_argument("consistent_hash: a pool may hold at most 65534 backends");
  constexpr std::uint64_t m = table_size;

  std::vector<claimant> claimants;
  std::uint64_t max_weight = 0;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    const backend& b = *backends_[i];
    const std::uint64_t w = b.weight();
    if (w == 0) continue;
    // Hashing the address, not the position, keeps a backend's slots where they were when
    // other backends are added or removed around it.
    claimants.push_back({static_cast<std::uint16_t>(i), w, hash_bytes(b.address(), offset_seed) % m,
                         hash_bytes(b.address(), skip_seed) % (m - 1) + 1});
    max_weight = std::max(max_weight, w);
    in_table_[i] = true;
  }
  if (claimants.empty()) return;

  // Weighted Maglev as in Envoy: in round r a backend claims a slot when r * weight reaches its
  // target, which then grows by max_weight; the heaviest claims every round, one of a third of
  // its weight every third round.
  table_.assign(m, no_backend);
  for (auto& c : claimants)
    c.target = max_weight;
  std::uint64_t filled = 0;
  for (std::uint64_t round = 1; filled < m; ++round) {
    for (auto& c : claimants) {
      if (filled == m) break;
      if (round * c.weight < c.target) continue;
      c.target += max_weight;
      std::uint64_t slot = (c.offset + c.next * c.skip) % m;
      while (table_[slot] != no_backend) {
        ++c.next;
        slot = (c.offset + c.next * c.skip) % m;
      }
      table_[slot] = c.index;
      ++c.next;
      ++filled;
    }
  }
}

int consistent_hash::walk(std::uint32_t slot, const tried_set& already,
                          bool accept_tried) const noexcept {
  for (std::uint32_t step = 0; step < table_size; ++step) {
    const std::uint16_t i = table_[slot];
    if (backends_[i]->eligible() && (accept_tried || !already.contains(i))) return i;
    slot = slot + 1 == table_size ? 0 : slot + 1;
  }
  return -1;
}

int consistent_hash::pick(const pick_context& ctx) {
  if (table_.empty()) return -1;
  // Walking the whole table when nothing in it can be chosen would cost 64K loads per request
  // during an outage; one pass over the backends that own slots rules that out first.
  bool any_untried = false;
  bool any = false;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    if (!in_table_[i] || !backends_[i]->eligible()) continue;
    any = true;
    any_untried |= !ctx.tried.contains(i);
  }
  if (!any) return -1;
  const auto slot = static_cast<std::uint32_t>(ctx.hash % table_size);
  // A retry moves to the next eligible backend along the table: still a function of the key,
  // so a given key's retries go to the same second choice.
  if (any_untried) {
    if (int i = walk(slot, ctx.tried, false); i >= 0) return i;
  }
  return walk(slot, ctx.tried, true);
}

}  // namespace tally::balancer
