// The memory of a request in flight — the read buffer, the header arena, the relay buffer — in
// blocks of two fixed sizes, kept on a free list per thread (one worker is one thread). A
// connection takes its blocks when a request arrives and gives them back when it goes idle
// (HAProxy's buffers on demand): an idle keep-alive connection holds none, and the steady
// keep-alive path reuses the same few blocks instead of calling malloc.
//
// Thread safety: each thread has its own lists. A block may be given back on another thread than
// the one it came from (it is plain memory); it then joins that thread's list.
#pragma once

#include <array>
#include <cstddef>
#include <new>

namespace tally::proxy {

class block_pool {
 public:
  static constexpr std::size_t small = std::size_t{16} * 1024;  // read buffers, header arenas
  static constexpr std::size_t large =
      std::size_t{64} * 1024;  // relay buffers, read buffers of bodies
  // Free blocks kept per size and thread; more are returned to the heap. 64 of each is 5 MiB
  // at most, kept only after that many requests were in flight at once.
  static constexpr std::size_t max_free = 64;

  // A block of `size` (small or large) bytes, aligned for any type.
  static void* take(std::size_t size) {
    auto& l = lists().of(size);
    if (l.count > 0) return l.blocks[--l.count];
    return ::operator new(size);
  }
  static void give(void* block, std::size_t size) noexcept {
    auto& l = lists().of(size);
    if (l.count < max_free) {
      l.blocks[l.count++] = block;
      return;
    }
    ::operator delete(block, size);
  }
  // Whether `size` is one of the two block sizes.
  static constexpr bool pooled(std::size_t size) noexcept { return size == small || size == large; }

 private:
  struct list {
    std::array<void*, max_free> blocks{};
    std::size_t count = 0;
  };
  struct thread_lists {
    list small_blocks, large_blocks;
    list& of(std::size_t size) noexcept { return size == small ? small_blocks : large_blocks; }
    ~thread_lists() {
      for (std::size_t i = 0; i < small_blocks.count; ++i)
        ::operator delete(small_blocks.blocks[i], small);
      for (std::size_t i = 0; i < large_blocks.count; ++i)
        ::operator delete(large_blocks.blocks[i], large);
    }
  };
  static thread_lists& lists() noexcept {
    thread_local thread_lists l;
    return l;
  }
};

// An allocator that serves the two block sizes from block_pool and anything else from the heap.
// A flat_buffer with it takes a pooled block for its usual 16 KiB and 64 KiB reads.
template <class T>
class pooled_allocator {
 public:
  using value_type = T;
  pooled_allocator() noexcept = default;
  template <class U>
  pooled_allocator(const pooled_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    const auto bytes = n * sizeof(T);
    if (block_pool::pooled(bytes)) return static_cast<T*>(block_pool::take(bytes));
    return static_cast<T*>(::operator new(bytes));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const auto bytes = n * sizeof(T);
    if (block_pool::pooled(bytes))
      block_pool::give(p, bytes);
    else
      ::operator delete(p, bytes);
  }
  template <class U>
  bool operator==(const pooled_allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace tally::proxy
