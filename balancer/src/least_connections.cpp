#include "least_connections.hpp"

namespace tally::balancer {

least_connections::least_connections(const backend_list& backends) : backends_(backends) {}

int least_connections::pick(const pick_context& ctx) {
  const std::size_t n = backends_.size();
  if (n == 0) return -1;
  // The scan starts at a rotating index and keeps the first of equal loads, so a burst of
  // requests against an idle pool spreads instead of all landing on backends[0].
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  int best = -1;
  int best_tried = -1;
  detail::load best_load{};
  detail::load best_tried_load{};
  for (std::size_t k = 0, i = start; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
    const backend& b = *backends_[i];
    if (!b.eligible()) continue;
    const auto l = detail::load::of(b);
    // A weight read as 0 here lost a race with an admin change; skip it like eligible() would.
    if (l.weight == 0) continue;
    const bool tried = ctx.tried.contains(i);
    int& winner = tried ? best_tried : best;
    detail::load& winner_load = tried ? best_tried_load : best_load;
    if (winner < 0 || l.lighter_than(winner_load)) {
      winner = static_cast<int>(i);
      winner_load = l;
    }
  }
  return best >= 0 ? best : best_tried;
}

}  // namespace tally::balancer
