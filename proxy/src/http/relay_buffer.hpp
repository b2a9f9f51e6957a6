// The bounded buffer a connection streams bodies through. Taken from block_pool on first use, so
// bodiless requests cost nothing, and given back when the connection goes idle.
#pragma once

#include <cstddef>
#include <utility>

#include "http/block_pool.hpp"

namespace tally::proxy {

class relay_buffer {
 public:
  static constexpr std::size_t capacity = block_pool::large;

  relay_buffer() = default;
  relay_buffer(const relay_buffer&) = delete;
  relay_buffer& operator=(const relay_buffer&) = delete;
  ~relay_buffer() { release(); }

  char* data() {
    if (!data_) data_ = static_cast<char*>(block_pool::take(capacity));
    return data_;
  }
  // Gives the memory back (the next data() takes a block again).
  void release() noexcept {
    if (auto* d = std::exchange(data_, nullptr)) block_pool::give(d, capacity);
  }
  bool holds_block() const noexcept { return data_ != nullptr; }

 private:
  char* data_ = nullptr;
};

}  // namespace tally::proxy
