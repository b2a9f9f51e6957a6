// The interface every balancing policy implements. A policy is built for one fixed list of
// backends (a pool inside one routing snapshot) and must be safe to call from every worker
// thread at once without a shared lock: state is atomics or per-worker.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "tally/balancer/backend.hpp"
#include "tally/config/config.hpp"

namespace tally::balancer {

// The backends one request has tried, so a retry can prefer others. A request makes at most
// 1 + retry.attempts (<= 11) tries, so the indices are kept inline: no allocation per request and
// no limit on the pool's size (a bit mask would cap it at 64 backends).
class tried_set {
 public:
  static constexpr std::size_t capacity = 16;
  tried_set() = default;
  tried_set(std::initializer_list<std::size_t> indices) noexcept {
    for (auto i : indices)
      add(i);
  }
  bool contains(std::size_t index) const noexcept {
    for (std::size_t k = 0; k < size_; ++k)
      if (items_[k] == index) return true;
    return false;
  }
  // Past `capacity` the oldest entry makes room: a retry may then revisit it, never crash.
  void add(std::size_t index) noexcept {
    if (contains(index)) return;
    if (size_ < capacity) {
      items_[size_++] = index;
      return;
    }
    for (std::size_t k = 1; k < capacity; ++k)
      items_[k - 1] = items_[k];
    items_[capacity - 1] = index;
  }
  std::size_t size() const noexcept { return size_; }

 private:
  std::array<std::size_t, capacity> items_{};
  std::size_t size_ = 0;
};

struct pick_context {
  unsigned worker = 0;       // index of the calling worker thread, < workers given at build
  std::uint64_t hash = 0;    // consistent_hash key, already hashed (see hash_key() in hash.hpp)
  std::uint64_t random = 0;  // a random value the caller drew (random_two); 0 = policy draws
  tried_set tried;           // backends already tried by this request; a retry prefers others
};

class policy {
 public:
  virtual ~policy() = default;
  // Returns an index into the pool's backends, or -1 when no backend is eligible.
  virtual int pick(const pick_context& ctx) = 0;
};

using backend_list = std::vector<std::shared_ptr<backend>>;

// Builds the policy a pool config names, for `backends` and `workers` worker threads. The policy
// keeps its own copy of the list (shared ownership of the same backend objects), so it never
// depends on where the caller's list lives: moving a pool is safe.
std::unique_ptr<policy> make_policy(const config::pool_config& cfg, const backend_list& backends,
                                    unsigned workers);

}  // namespace tally::balancer
