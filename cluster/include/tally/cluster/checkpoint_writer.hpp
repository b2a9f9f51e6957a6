// Writes checkpoints on its own thread so fsync never stalls an event loop.
//
// request_write() only stores the state (latest wins) and wakes the thread; writes are at least
// `min_spacing` apart, so a burst of admin changes or verdict flips becomes one or two writes.
// With `source` and `interval` set, the thread also writes source() every `interval` (the
// periodic write catches anything no request reported); otherwise the caller's timer calls
// request_write(). flush() (and the destructor) write what is pending and wait: the shutdown path.
//
// Failures are logged through `log`, counted, and the writer carries on; the file at `path` keeps
// the last good checkpoint (see write_checkpoint_file).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "tally/cluster/checkpoint_state.hpp"

namespace tally::cluster {

// One finished write, for metrics: tally_checkpoint_writes_total{result} and
// tally_checkpoint_last_success_timestamp_seconds.
struct checkpoint_write_report {
  bool ok = false;
  std::string error;                    // empty when ok
  std::size_t bytes = 0;                // size of the encoded file
  std::chrono::nanoseconds duration{};  // encode + write + fsyncs + rename
  std::int64_t finished_at_ms = 0;      // wall clock, Unix ms
};

struct checkpoint_writer_options {
  std::filesystem::path path;
  std::chrono::milliseconds min_spacing{200};
  std::chrono::milliseconds interval{0};      // 0: no internal periodic write
  std::function<checkpoint_state()> source;   // called on the writer thread; thread-safe
  std::function<void(std::string_view)> log;  // failures and recovery; writer thread
  std::function<void(const checkpoint_write_report&)> on_write;  // every write; writer thread
  std::function<std::int64_t()> wall_clock_ms;  // stamps written_at_ms; default: system
};

class checkpoint_writer {
 public:
  explicit checkpoint_writer(checkpoint_writer_options options);
  ~checkpoint_writer();  // flushes, then joins
  checkpoint_writer(const checkpoint_writer&) = delete;
  checkpoint_writer& operator=(const checkpoint_writer&) = delete;

  // Any thread; cheap (a move under a mutex). The newest state replaces an unwritten older one.
  void request_write(checkpoint_state state);

  // Writes the pending state now (ignoring min_spacing) and waits for it. Returns false if that
  // write failed; true if it succeeded or nothing was pending.
  bool flush();

  std::uint64_t successes() const noexcept { return successes_.load(); }
  std::uint64_t failures() const noexcept { return failures_.load(); }
  std::int64_t last_success_ms() const noexcept { return last_success_ms_.load(); }  // 0: never

 private:
  void run();
  bool write_now(checkpoint_state& state);  // stamps written_at_ms
  std::int64_t now_ms() const;

  checkpoint_writer_options options_;
  std::atomic<std::uint64_t> successes_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::int64_t> last_success_ms_{0};
  bool failing_ = false;  // writer thread only: log "writes succeed again" once after failures

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::optional<checkpoint_state> pending_;
  std::uint64_t flush_requests_ = 0;  // flush() bumps it; the thread answers with flush_done_
  std::uint64_t flush_done_ = 0;
  bool last_flush_ok_ = true;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after every field above is ready
};

}  // namespace tally::cluster
