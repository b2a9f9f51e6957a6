// An HTTP/1.1 origin server that answers with its own name: the three servers behind
// `tally demo`, and the real backends the integration tests and benchmarks proxy to.
//
// Endpoints (any method; request bodies are always read and discarded, streaming):
//   /              and any unknown path: 200 "<name>\n", header X-Backend: <name>
//   /healthz       200 "ok\n", or 503 after set_healthy(false)
//   /bytes/N       N bytes of pattern_byte(i), streamed; ?chunked=1 sends them chunked
//   /sink          (POST/PUT) 200 "bytes=<count> fnv=<hex fnv1a64>\n" over the request body
//   /headers       200, one "Name: value\n" line per request header
//   /delay/MS      waits MS milliseconds (timer, not a blocked thread), then 200 "<name>\n"
//   /status/CODE   answers CODE (200..599) with body "<name>\n"
//   /close         answers 200 "<name>\n" and closes the connection
//   /hold          waits until release_held() (at most 30 s), then 200 "<name>\n": a request
//                  kept in flight for as long as a test needs, without a clock
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tally::proxy {

struct demo_backend_stats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> held{0};  // /hold requests waiting for release_held() now
};

namespace detail {
struct demo_backend_state;
}

class demo_backend {
 public:
  // FNV-1a 64-bit offset basis; fold bodies with fnv1a(fnv1a_initial, data, size).
  static constexpr std::uint64_t fnv1a_initial = 0xcbf29ce484222325ull;

  // Byte i of every /bytes/N body; period 256, so tests can check any offset.
  static char pattern_byte(std::uint64_t i) { return static_cast<char>((i * 31 + 7) & 0xff); }

  static std::uint64_t fnv1a(std::uint64_t h, const char* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      h ^= static_cast<unsigned char>(data[i]);
      h *= 0x100000001b3ull;
    }
    return h;
  }

  // Binds bind_host:port (0 = ephemeral) right away and starts accepting on `ioc`; throws
  // boost::system::system_error when the address cannot be bound (a start-up boundary).
  // `ioc` may be run by any number of threads: every connection runs on its own strand.
  // `ioc` must outlive this object.
  demo_backend(boost::asio::io_context& ioc, std::string name, std::uint16_t port = 0,
               const std::string& bind_host = "127.0.0.1");
  ~demo_backend();

  demo_backend(const demo_backend&) = delete;
  demo_backend& operator=(const demo_backend&) = delete;

  std::uint16_t port() const;
  const std::string& name() const;
  const demo_backend_stats& stats() const;

  // What /healthz answers from now on; safe from any thread.
  void set_healthy(bool healthy);

  // Closes the acceptor and every open connection (cancelling pending /delay timers). Safe from
  // any thread: the work is posted to the io_context, so it happens once the context runs.
  // Also safe (and a no-op beyond posting) after the io_context has stopped.
  void stop();

  // Answers every /hold request held now; later ones wait for the next call. Safe from any
  // thread (posted to the sessions, like stop()).
  void release_held();

  // Headers of the most recent request whose header block was read, in arrival order.
  std::vector<std::pair<std::string, std::string>> last_request_headers() const;

 private:
  // Shared with the accept loop and the sessions, so an in-flight coroutine never outlives
  // the state it touches, even when this object is destroyed first.
  std::shared_ptr<detail::demo_backend_state> state_;
};

}  // namespace tally::proxy
