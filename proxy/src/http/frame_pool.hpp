// Coroutine frames of the request path (awaitable<T> of net_types.hpp), from per-thread free
// lists by size.
//
// Asio recycles a frame only through a per-thread cache of a few slots that holds blocks up to
// 1020 bytes (one byte counts 4-byte chunks); a larger frame is allocated with aligned_alloc
// and, on its way, evicts a cached block. A small keep-alive request runs about 15 frames, most
// of them larger than that: measured with callgrind, ten aligned_alloc/free pairs per request,
// and the cache's linear scans of its 16 slots (CMakeLists.txt) on every frame besides. Here a
// frame takes a block of its size class (64-byte steps) from this thread's list and gives it
// back: a few instructions, no heap call on the steady keep-alive path.
//
// The lists are bounded (max_free blocks per class); frames over 4 KiB use the heap directly.
// Thread safety: each thread has its own lists. A frame may end on another thread than the one
// it began on (at shutdown); its block then joins that thread's list.
#pragma once

#include <array>
#include <cstddef>
#include <new>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

namespace tally::proxy {

namespace frame_pool_detail {

struct block {
  block* next;
};
struct list {
  block* head = nullptr;
  std::size_t count = 0;
};
// Trivially destructible and constant-initialized, so the hot path reaches it without a
// thread_local guard; frame_pool's releaser, met only when a block is created, empties it.
template <std::size_t Classes>
struct thread_lists {
  std::array<list, Classes> free{};
  bool open = true;  // false once the thread is exiting: late frames go to the heap
};

}  // namespace frame_pool_detail

class frame_pool {
 public:
  static constexpr std::size_t granule = 64;
  static constexpr std::size_t classes = 64;   // frames up to 4 KiB
  static constexpr std::size_t max_free = 64;  // free blocks kept per class and thread

  static void* allocate(std::size_t size) {
    const std::size_t c = class_of(size);
    if (c >= classes) return ::operator new(size);
    auto& l = lists_.free[c];
    if (auto* b = l.head) {
      l.head = b->next;
      --l.count;
      return b;
    }
    // A new block: from here on this thread's lists hold memory to release at its exit.
    thread_local releaser r;
    r.touch();
    return ::operator new((c + 1) * granule);
  }

  static void deallocate(void* p, std::size_t size) noexcept {
    const std::size_t c = class_of(size);
    if (c >= classes) {
      ::operator delete(p, size);
      return;
    }
    auto& l = lists_.free[c];
    if (lists_.open && l.count < max_free) {
      auto* b = static_cast<block*>(p);
      b->next = l.head;
      l.head = b;
      ++l.count;
      return;
    }
    ::operator delete(p, (c + 1) * granule);
  }

 private:
  using block = frame_pool_detail::block;
  struct releaser {
    releaser() = default;
    releaser(const releaser&) = delete;
    releaser& operator=(const releaser&) = delete;
    void touch() noexcept {}
    ~releaser() {
      lists_.open = false;
      for (std::size_t c = 0; c < classes; ++c)
        while (auto* b = lists_.free[c].head) {
          lists_.free[c].head = b->next;
          ::operator delete(b, (c + 1) * granule);
        }
    }
  };

  static constexpr std::size_t class_of(std::size_t size) noexcept {
    return size == 0 ? 0 : (size - 1) / granule;
  }
  static inline thread_local constinit frame_pool_detail::thread_lists<classes> lists_{};
};

}  // namespace tally::proxy

// Asio's frame allocation for coroutines on io_context::executor_type, the worker executor.
// Explicit specializations: every translation unit that names that executor in an awaitable
// must see them, which holds because only the request path uses it, through net_types.hpp.
template <>
inline void*
boost::asio::detail::awaitable_frame_base<boost::asio::io_context::executor_type>::operator new(
    std::size_t size) {
  return tally::proxy::frame_pool::allocate(size);
}

template <>
inline void
boost::asio::detail::awaitable_frame_base<boost::asio::io_context::executor_type>::operator delete(
    void* pointer, std::size_t size) {
  tally::proxy::frame_pool::deallocate(pointer, size);
}
