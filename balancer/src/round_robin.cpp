#include "round_robin.hpp"

namespace tally::balancer {

round_robin::round_robin(const backend_list& backends) : backends_(backends) {}

int round_robin::pick(const pick_context& ctx) {
  // The counter numbers turns among the *eligible* backends, not among all of them: skipping a
  // down backend to its neighbour would give that neighbour a double share (the rotation Envoy
  // gets by rebuilding its healthy host set). Retries rotate among untried backends first.
  const auto set = detail::candidate_set::of(backends_, ctx.tried);
  if (set.count == 0) return -1;

  std::size_t turn = next_.fetch_add(1, std::memory_order_relaxed) % set.count;
  int fallback = -1;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    if (!set.contains(backends_, ctx.tried, i)) continue;
    if (turn-- == 0) return static_cast<int>(i);
    fallback = static_cast<int>(i);
  }
  // Eligibility changed between the two passes (health or admin on another thread): any
  // candidate seen is as good a choice as the rotation's.
  return fallback;
}

}  // namespace tally::balancer
