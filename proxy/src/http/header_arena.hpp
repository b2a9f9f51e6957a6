// Memory for the fields of the messages one connection is parsing. Beast allocates every header
// field separately; with the default allocator that was a malloc and a free per field, several
// per request. A connection parses at most one request and one response at a time, so a bump
// arena that rewinds when its last allocation is returned serves them without the heap; a
// message too large for it falls back to operator new. Its block comes from block_pool with
// the first allocation and goes back with the last: an idle connection holds none.
#pragma once

#include <cstddef>
#include <new>

#include "http/block_pool.hpp"

namespace tally::proxy {

class header_arena {
 public:
  static constexpr std::size_t capacity = block_pool::small;

  header_arena() = default;
  header_arena(const header_arena&) = delete;
  header_arena& operator=(const header_arena&) = delete;
  ~header_arena() {
    if (storage_) block_pool::give(storage_, capacity);
  }

  void* allocate(std::size_t n, std::size_t align) {
    std::size_t at = (used_ + align - 1) & ~(align - 1);
    if (at + n <= capacity && align <= alignof(std::max_align_t)) {
      if (!storage_) storage_ = static_cast<char*>(block_pool::take(capacity));
      used_ = at + n;
      ++live_;
      return storage_ + at;
    }
    return ::operator new (n, std::align_val_t{align});
  }

  void deallocate(void* p, std::size_t n, std::size_t align) noexcept {
    auto* c = static_cast<char*>(p);
    if (storage_ && c >= storage_ && c < storage_ + capacity) {
      if (--live_ == 0) {
        // Everything returned: the block goes back until the next message.
        block_pool::give(storage_, capacity);
        storage_ = nullptr;
        used_ = 0;
      }
      return;
    }
    ::operator delete (p, n, std::align_val_t{align});
  }

  // Whether the arena holds its block (a message's fields are alive).
  bool holds_block() const noexcept { return storage_ != nullptr; }

 private:
  char* storage_ = nullptr;
  std::size_t used_ = 0;
  std::size_t live_ = 0;
};

template <class T>
class arena_allocator {
 public:
  using value_type = T;

  explicit arena_allocator(header_arena& a) noexcept : arena_(&a) {}
  template <class U>
  arena_allocator(const arena_allocator<U>& other) noexcept : arena_(other.arena()) {}

  T* allocate(std::size_t n) {
    return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    arena_->deallocate(p, n * sizeof(T), alignof(T));
  }

  header_arena* arena() const noexcept { return arena_; }
  template <class U>
  bool operator==(const arena_allocator<U>& o) const noexcept {
    return arena_ == o.arena();
  }

 private:
  header_arena* arena_;
};

}  // namespace tally::proxy
