#include "least_connections.hpp"

namespace tally::balancer {

least_connections::least_connections(const backend_list& backends) : backends_(backends) {}

int least_connections::pick(const pick_context& ctx) {
  const std::size_t n = backends_.size();
  if (n == 0) return -1;
  // The scan starts at a rotating index and keeps the first of equal loads, so a burst of
  // requests against an idle pool spreads instead of all landing on backends[0].
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  // The lightest backend of each preference tier (untried with room first: see selection.hpp).
  int best[4] = {-1, -1, -1, -1};
  detail::load best_load[4]{};
  for (std::size_t k = 0, i = start; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
    const backend& b = *backends_[i];
    if (!b.eligible()) continue;
    const auto l = detail::load::of(b);
    // A weight read as 0 here lost a race with an admin change; skip it like eligible() would.
    if (l.weight == 0) continue;
    const int tier = detail::preference_tier(b, ctx.tried.contains(i));
    if (best[tier] < 0 || l.lighter_than(best_load[tier])) {
      best[tier] = static_cast<int>(i);
      best_load[tier] = l;
    }
  }
  for (int winner : best)
    if (winner >= 0) return winner;
  return -1;
}

}  // namespace tally::balancer
