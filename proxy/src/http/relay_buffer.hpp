// The bounded buffer a connection streams bodies through. Allocated on first use, so idle
// connections and bodiless requests cost nothing; reused for every later request.
#pragma once

#include <cstddef>
#include <memory>

namespace tally::proxy {

class relay_buffer {
 public:
  static constexpr std::size_t capacity = std::size_t{64} * 1024;
  char* data() {
    if (!data_) data_ = std::make_unique_for_overwrite<char[]>(capacity);
    return data_.get();
  }

 private:
  std::unique_ptr<char[]> data_;
};

}  // namespace tally::proxy
