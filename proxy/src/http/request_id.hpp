// X-Request-Id values for requests that arrive without one: 32 hex digits, a random per-worker
// prefix and a counter, generated without allocation or locking.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace tally::proxy {

class request_id_generator {
 public:
  request_id_generator() {
    std::random_device rd;
    prefix_ = (std::uint64_t{rd()} << 32) ^ rd();
  }

  // Writes the next id into `out` and returns a view of it.
  std::string_view next(char (&out)[32]) noexcept {
    static constexpr char digits[] = "0123456789abcdef";
    std::uint64_t hi = prefix_, lo = ++counter_;
    for (int i = 15; i >= 0; --i, hi >>= 4)
      out[i] = digits[hi & 0xf];
    for (int i = 31; i >= 16; --i, lo >>= 4)
      out[i] = digits[lo & 0xf];
    return {out, 32};
  }

 private:
  std::uint64_t prefix_ = 0;
  std::uint64_t counter_ = 0;
};

}  // namespace tally::proxy
