#include "weighted_round_robin.hpp"

#include <algorithm>

namespace tally::balancer {

weighted_round_robin::weighted_round_robin(const backend_list& backends, unsigned workers)
    : backends_(backends),
      workers_(std::max(workers, 1u)),
      lines_per_worker_(
          std::max<std::size_t>(1, (backends.size() + slots_per_line - 1) / slots_per_line)),
      lines_(workers_ * lines_per_worker_) {}

// Reads every backend's effective weight (0 when not eligible) into the worker's slots and
// restarts the sequence when any differs from the last pick. nginx keeps stale current weights
// across such changes, which skews the period after a backend leaves or returns; restarting
// keeps the proportions exact from the change on. It also gives the rest of pick() one
// consistent view even if an admin or health write lands mid-pick.
void weighted_round_robin::observe_weights(std::size_t first_line) noexcept {
  bool changed = false;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    const backend& b = *backends_[i];
    const std::uint32_t w = b.eligible() ? b.weight() : 0;
    slot& s = at(first_line, i);
    changed |= s.seen != w;
    s.seen = w;
  }
  if (changed)
    for (std::size_t i = 0; i < backends_.size(); ++i)
      at(first_line, i).current = 0;
}

int weighted_round_robin::pick(const pick_context& ctx) {
  const std::size_t first_line = (ctx.worker % workers_) * lines_per_worker_;
  observe_weights(first_line);

  // One SWRR round: every eligible backend earns its weight, the best pays the total. A retry
  // may not choose a tried backend while an untried one is eligible, but the tried ones still
  // earn, so they catch up later and the long-run proportions hold.
  std::int64_t total = 0;
  int best = -1;
  int best_tried = -1;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    slot& s = at(first_line, i);
    if (s.seen == 0) continue;
    s.current += s.seen;
    total += s.seen;
    int& winner = detail::was_tried(ctx.tried_mask, i) ? best_tried : best;
    if (winner < 0 || s.current > at(first_line, static_cast<std::size_t>(winner)).current)
      winner = static_cast<int>(i);
  }
  if (best < 0) best = best_tried;
  if (best >= 0) at(first_line, static_cast<std::size_t>(best)).current -= total;
  return best;
}

}  // namespace tally::balancer
