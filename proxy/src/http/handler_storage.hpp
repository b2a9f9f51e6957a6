// Room for an object's asynchronous operations inside the object that waits on them.
//
// Asio allocates each operation from a per-thread cache that hands out the first free block big
// enough, so a 150-byte wait parked for minutes on an idle connection can sit in a 700-byte
// block a coroutine frame left behind. Operations that live as long as an idle connection get
// exact-sized room here instead (Asio's "allocation" example does the same). A second operation
// while the room is taken comes from Asio's cache as before: correct, only not compact.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <boost/asio/recycling_allocator.hpp>

namespace tally::proxy {

// Operations that were larger than their room (a Boost or compiler upgrade grew them, and the
// sizes below need raising); tests assert none.
inline std::atomic<std::uint64_t> handler_storage_oversized{0};

template <std::size_t Size>
class handler_storage {
 public:
  handler_storage() = default;
  handler_storage(const handler_storage&) = delete;
  handler_storage& operator=(const handler_storage&) = delete;

  void* allocate(std::size_t n) {
    if (n > Size) handler_storage_oversized.fetch_add(1, std::memory_order_relaxed);
    if (n <= Size && !in_use_) {
      in_use_ = true;
      return bytes_;
    }
    return boost::asio::recycling_allocator<unsigned char>().allocate(n);
  }
  void deallocate(void* p, std::size_t n) noexcept {
    if (p == bytes_) {
      in_use_ = false;
      return;
    }
    boost::asio::recycling_allocator<unsigned char>().deallocate(static_cast<unsigned char*>(p), n);
  }

 private:
  alignas(std::max_align_t) unsigned char bytes_[Size];
  bool in_use_ = false;
};

// The allocator to bind to a handler (net::bind_allocator) so its operation uses `storage`.
template <class T, class Storage>
class handler_storage_allocator {
 public:
  using value_type = T;

  explicit handler_storage_allocator(Storage& storage) noexcept : storage_(&storage) {}
  template <class U>
  handler_storage_allocator(const handler_storage_allocator<U, Storage>& other) noexcept
      : storage_(other.storage_) {}

  T* allocate(std::size_t n) { return static_cast<T*>(storage_->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t n) noexcept { storage_->deallocate(p, sizeof(T) * n); }

  template <class U>
  bool operator==(const handler_storage_allocator<U, Storage>& other) const noexcept {
    return storage_ == other.storage_;
  }

 private:
  template <class, class>
  friend class handler_storage_allocator;
  Storage* storage_;
};

}  // namespace tally::proxy
