#include "weighted_round_robin.hpp"

#include <algorithm>

namespace tally::balancer {

weighted_round_robin::weighted_round_robin(const backend_list& backends, unsigned workers)
    : backends_(backends),
      workers_(std::max(workers, 1u)),
      lines_per_worker_(
          std::max<std::size_t>(1, (backends.size() + slots_per_line - 1) / slots_per_line)),
      lines_(workers_ * lines_per_worker_) {}

// One SWRR round over the worker's slots: every eligible backend earns its weight, the best pays
// the total. A retry may not choose a tried backend while an untried one is eligible, but the
// tried ones still earn, so they catch up later and the long-run proportions hold.
// With `observe`, the same pass first reads each backend's effective weight (0 when not
// eligible) into its slot and sets `changed` when any differs from the last pick; the round's
// result is then void and pick() reruns it. One pass in the common case, two after a change.
int weighted_round_robin::run_round(std::size_t first_line, const tried_set& already, bool observe,
                                    bool& changed) noexcept {
  std::int64_t total = 0;
  // The leader of each preference tier (untried with room first: see selection.hpp). Skipping a
  // full backend leaves its current weight high, so it catches up once it has room again.
  int best[4] = {-1, -1, -1, -1};
  std::int64_t best_current[4] = {0, 0, 0, 0};
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    slot& s = at(first_line, i);
    if (observe) {
      const backend& b = *backends_[i];
      const std::uint32_t w = b.eligible() ? b.weight() : 0;
      changed |= s.seen != w;
      s.seen = w;
    }
    if (s.seen == 0) continue;
    s.current += s.seen;
    total += s.seen;
    const int tier = detail::preference_tier(*backends_[i], already.contains(i));
    if (best[tier] < 0 || s.current > best_current[tier]) {
      best[tier] = static_cast<int>(i);
      best_current[tier] = s.current;
    }
  }
  for (int winner : best) {
    if (winner < 0) continue;
    at(first_line, static_cast<std::size_t>(winner)).current -= total;
    return winner;
  }
  return -1;
}

int weighted_round_robin::pick(const pick_context& ctx) {
  const std::size_t first_line = (ctx.worker % workers_) * lines_per_worker_;
  bool changed = false;
  const int best = run_round(first_line, ctx.tried, true, changed);
  if (!changed) return best;
  // Eligibility or a weight changed: restart the sequence from zero. nginx keeps stale current
  // weights across such changes, which skews the period after a backend leaves or returns;
  // restarting keeps the proportions exact from the change on. The rerun uses the weights just
  // recorded, so a write landing mid-pick cannot make one round see two views.
  for (std::size_t i = 0; i < backends_.size(); ++i)
    at(first_line, i).current = 0;
  return run_round(first_line, ctx.tried, false, changed);
}

}  // namespace tally::balancer
