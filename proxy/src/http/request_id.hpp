// X-Request-Id values for requests that arrive without one: 32 hex digits, a random per-worker
// prefix and a counter, generated without allocation or locking.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>

namespace tally::proxy {

class request_id_generator {
 public:
  request_id_generator() {
    std::random_device rd;
    std::uint64_t prefix = (std::uint64_t{rd()} << 32) ^ rd();
    for (int i = 15; i >= 0; --i, prefix >>= 4)
      prefix_[i] = digits[prefix & 0xf];
  }

  // Writes the next id into `out` and returns a view of it.
  std::string_view next(char (&out)[32]) noexcept {
    std::memcpy(out, prefix_, sizeof prefix_);
    std::uint64_t lo = ++counter_;
    for (int i = 31; i >= 16; --i, lo >>= 4)
      out[i] = digits[lo & 0xf];
    return {out, 32};
  }

 private:
  static constexpr char digits[] = "0123456789abcdef";
  char prefix_[16] = {};  // the random prefix's hex digits, written once
  std::uint64_t counter_ = 0;
};

}  // namespace tally::proxy
