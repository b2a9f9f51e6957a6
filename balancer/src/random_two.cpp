#include "random_two.hpp"

#include <algorithm>

namespace tally::balancer {

random_two::random_two(const backend_list& backends, unsigned workers, std::uint64_t seed)
    : backends_(backends), random_(std::max(workers, 1u)) {
  for (std::size_t w = 0; w < random_.size(); ++w)
    random_[w].value.state = mix64(seed ^ mix64(w + 1));
}

std::uint64_t random_two::draw(const pick_context& ctx) noexcept {
  // A caller's value is mixed so that even small or sequential values give two unrelated halves.
  if (ctx.random != 0) return mix64(ctx.random);
  return random_[ctx.worker % random_.size()].value.next();
}

int random_two::pick(const pick_context& ctx) {
  const auto set = detail::candidate_set::of(backends_, ctx.tried);
  const std::size_t candidates = set.count;
  if (candidates == 0) return -1;

  const std::uint64_t r = draw(ctx);
  // Two distinct ordinals from the two 32-bit halves; the modulo bias (< n / 2^32) is noise.
  std::size_t first = (r & 0xffffffffu) % candidates;
  std::size_t second = candidates > 1 ? (r >> 32) % (candidates - 1) : first;
  if (candidates > 1 && second >= first) ++second;

  int a = -1;
  int b = -1;
  std::size_t ordinal = 0;
  for (std::size_t i = 0; i < backends_.size() && (a < 0 || b < 0); ++i) {
    if (!set.contains(backends_, ctx.tried, i)) continue;
    if (ordinal == first) a = static_cast<int>(i);
    if (ordinal == second) b = static_cast<int>(i);
    ++ordinal;
  }
  // Eligibility may have changed since the count; take whichever draw still resolves.
  if (a < 0 || b < 0) return a >= 0 ? a : b;
  const auto la = detail::load::of(*backends_[a]);
  const auto lb = detail::load::of(*backends_[b]);
  return lb.lighter_than(la) ? b : a;
}

}  // namespace tally::balancer
