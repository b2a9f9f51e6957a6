// Memory for the fields of the messages one connection is parsing. Beast allocates every header
// field separately; with the default allocator that was a malloc and a free per field, several
// per request. A connection parses at most one request and one response at a time, so a bump
// arena that rewinds when its last allocation is returned serves them without the heap; a
// message too large for it falls back to operator new.
#pragma once

#include <cstddef>
#include <new>

namespace tally::proxy {

class header_arena {
 public:
  static constexpr std::size_t capacity = std::size_t{16} * 1024;

  header_arena() = default;
  header_arena(const header_arena&) = delete;
  header_arena& operator=(const header_arena&) = delete;

  void* allocate(std::size_t n, std::size_t align) {
    std::size_t at = (used_ + align - 1) & ~(align - 1);
    if (at + n <= capacity) {
      used_ = at + n;
      ++live_;
      return storage_ + at;
    }
    return ::operator new (n, std::align_val_t{align});
  }

  void deallocate(void* p, std::size_t n, std::size_t align) noexcept {
    auto* c = static_cast<char*>(p);
    if (c >= storage_ && c < storage_ + capacity) {
      if (--live_ == 0) used_ = 0;  // everything returned: start over
      return;
    }
    ::operator delete (p, n, std::align_val_t{align});
  }

 private:
  alignas(std::max_align_t) char storage_[capacity];
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
