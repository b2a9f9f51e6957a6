// The steady keep-alive path allocates nothing (issue 13): after warm-up, requests through one
// client connection cost tally's worker no operator new. Counted by replacing the global
// operator new of this test binary: while a window is open, every allocation made on a thread
// named "tally-w*" (tally's workers name themselves so) is counted. The client and the backend
// run on other threads and are not counted.
#include <doctest/doctest.h>

#include <sys/prctl.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "http/handler_storage.hpp"
#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/proxy_fixture.hpp"

namespace {

std::atomic<bool> window_open{false};
std::atomic<std::uint64_t> worker_allocations{0};

bool on_worker_thread() noexcept {
  char name[16] = {};
  if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0) return false;
  return std::strncmp(name, "tally-w", 7) == 0;
}

void count() noexcept {
  if (window_open.load(std::memory_order_relaxed) && on_worker_thread())
    worker_allocations.fetch_add(1, std::memory_order_relaxed);
}

void* allocate(std::size_t n) {
  count();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

void* allocate_aligned(std::size_t n, std::align_val_t al) {
  count();
  const auto a = static_cast<std::size_t>(al);
  // aligned_alloc wants a size that is a non-zero multiple of the alignment.
  const auto size = n == 0 ? a : (n + a - 1) / a * a;
  if (void* p = std::aligned_alloc(a, size)) return p;
  throw std::bad_alloc();
}

// Allocations on tally's workers while `f` runs.
template <class F>
std::uint64_t worker_allocations_during(F&& f) {
  worker_allocations.store(0);
  window_open.store(true);
  f();
  window_open.store(false);
  return worker_allocations.load();
}

}  // namespace

// Every replaceable form, so that whatever tally calls is counted and freed consistently.
void* operator new(std::size_t n) {
  return allocate(n);
}
void* operator new[](std::size_t n) {
  return allocate(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  count();
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  count();
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_aligned(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

using namespace tally::test;

TEST_CASE("keep-alive requests allocate nothing on tally's worker once warmed up") {
  backend_set backends(1);
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}, "workers: 1\n"));
  http_connection conn(proxy.port());

  // The counter sees the worker: a new connection costs its session (and more) at least.
  const auto first =
      worker_allocations_during([&] { REQUIRE(conn.request("GET", "/").status == 200); });
  CHECK(first > 0);

  // Warm-up: the block pool, Asio's recycling caches and the upstream pool fill up.
  for (int i = 0; i < 200; ++i) {
    REQUIRE(conn.request("GET", "/").status == 200);
    REQUIRE(conn.request("GET", "/bytes/70000").status == 200);
  }

  constexpr int requests = 500;
  int ok = 0;
  const auto steady = worker_allocations_during([&] {
    for (int i = 0; i < requests; ++i) {
      // A small response and one larger than the relay buffer (two pieces, two writes).
      ok += conn.request("GET", "/").status == 200;
      ok += conn.request("GET", "/bytes/70000").status == 200;
    }
  });
  CHECK(ok == 2 * requests);
  CHECK(steady == 0);
  // Every wait that parks with a connection (the idle wait, the deadline's timer) fit the room
  // set aside for it in http/handler_storage.hpp; else an idle connection costs more again.
  CHECK(tally::proxy::handler_storage_oversized.load() == 0);
}
