// The access log: one JSON object per line per request, written by one background thread so a
// worker never waits on the disk (SPEC "Config" access_log). A line looks like
//   {"time":"2026-11-26T04:27:58.123Z","client":"203.0.113.9","method":"GET",
//    "host":"api.example.com","target":"/v1/items?id=7","status":200,"bytes_in":0,
//    "bytes_out":5120,"duration_ms":3.042,"pool":"web","backend":"127.0.0.1:9001",
//    "upstream_ms":2.811,"tries":1,"termination":"ok","request_id":"3f2a…"}
// (on one line). `time` is when the request started (RFC 3339, UTC, milliseconds); duration_ms
// has microsecond resolution; pool and backend are null when no pool/backend was chosen (no
// route, 503 without a healthy backend, a 400 before routing); host is null without a Host;
// upstream_ms (last try's start to its response header) is null when no backend answered; tries
// counts upstream attempts; termination says how the exchange ended (access_termination).
//
// Cost model. write() formats into a per-thread scratch string (reused, so no allocation once
// warm), then takes a mutex only to memcpy the line onto the end of the pending batch. The batch
// is a byte buffer reserved once at `capacity_bytes`; a line that does not fit is dropped and
// counted, never waited for. The writer thread swaps the pending batch with its own (both keep
// their capacity) and issues one write(2) per batch. With access_log.enabled: false the proxy does
// not construct an access_log at all, so a disabled log costs one null-pointer test per request.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace tally::proxy {

// How a request ended, in the spirit of HAProxy's termination state and Envoy's response flags:
// which side stopped it and why. "ok" is a response relayed whole.
enum class access_termination : std::uint8_t {
  ok,                  // the backend's response was relayed whole
  client_closed,       // the client went away before the response was complete
  no_route,            // 404: no route matched
  no_healthy_backend,  // 503: every backend down, drained or ejected
  queue_full,          // 503: the backend's queue was full or the wait timed out
  connect_failure,     // 502: no backend could be connected to
  upstream_reset,      // 502: a backend closed or reset before a complete response
  upstream_protocol,   // 502: a backend's response was malformed (or an unasked 101)
  upstream_timeout,    // 504: no response header within the deadline
  upstream_aborted,    // the backend closed in the middle of its response body
  bad_request,         // 400: malformed request syntax
  smuggling_rejected,  // 400: conflicting framing (CL+TE, bad chunks, ...)
  header_timeout,      // 408: the header block did not arrive in time
  body_too_large,      // 413
  headers_too_large,   // 431
  local_error,         // tally itself ran out of a resource (descriptors, memory)
  upstream_tls,        // 502: the TLS handshake with every backend tried failed
};
std::string_view to_string(access_termination t) noexcept;

// One finished request. The views only need to stay valid during write().
struct access_record {
  std::chrono::system_clock::time_point time{};  // request start; the epoch means "now"
  std::string_view client;                       // the client's IP address
  std::string_view method;
  std::string_view host;  // empty → null
  std::string_view target;
  unsigned status = 0;
  std::uint64_t bytes_in = 0;   // request body bytes read from the client
  std::uint64_t bytes_out = 0;  // response body bytes sent to the client
  std::chrono::nanoseconds duration{0};
  std::string_view pool;     // empty → null
  std::string_view backend;  // empty → null (the last backend tried)
  // Last try's start to its response header; negative → null (no backend answered).
  std::chrono::nanoseconds upstream_duration{-1};
  unsigned tries = 0;  // upstream attempts, retries included
  access_termination termination = access_termination::ok;
  std::string_view request_id;
};

// Appends `r` as one JSON object and a '\n' to `out`. Strings are escaped for JSON; bytes that
// are not valid UTF-8 become \u00XX, so a hostile target cannot break a line or the encoding.
void format_access_record(const access_record& r, std::string& out);

class access_log {
 public:
  static constexpr std::size_t default_capacity_bytes = std::size_t{4} * 1024 * 1024;

  // path "-" is stdout; anything else is opened O_APPEND|O_CREAT (mode 0644). Throws
  // std::system_error if the file cannot be opened (start-up or reload time, never per request).
  // capacity_bytes bounds the memory of lines waiting for the writer (twice that is reserved:
  // the batch being filled and the one being written).
  explicit access_log(std::string path, std::size_t capacity_bytes = default_capacity_bytes);
  ~access_log();  // flush() then stop the writer
  access_log(const access_log&) = delete;
  access_log& operator=(const access_log&) = delete;

  // Formats and queues one line. Never blocks on I/O; returns false when the line was dropped
  // because the queue is full (or the log is shutting down). Thread-safe.
  bool write(const access_record& record);

  // Blocks until every line queued before the call has been handed to the kernel (write(2)
  // returned), and a reopen() asked for before it is done. For graceful shutdown and tests.
  void flush();

  // Asks the writer thread to reopen the file (SIGUSR1, after logrotate renamed it): lines
  // queued before the call go to the old file, later ones to the new. A failed open keeps the
  // old file and is logged. Does nothing for "-". Thread-safe, never blocks.
  void reopen();
  std::uint64_t reopens() const noexcept { return reopens_.load(std::memory_order_relaxed); }

  // Lines dropped because the queue was full; lines handed to the kernel; failed write(2)s.
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t written() const noexcept;
  std::uint64_t write_errors() const noexcept {
    return write_errors_.load(std::memory_order_relaxed);
  }

  const std::string& path() const noexcept { return path_; }

 private:
  void run();
  void write_all(const std::string& batch);
  void reopen_file();  // on the writer thread
  void reopen_locked(std::unique_lock<std::mutex>& lock);

  std::string path_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::size_t capacity_;

  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<std::uint64_t> reopens_{0};

  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;    // pending_ gained data, or stopping_
  std::condition_variable batch_written_;  // written_lines_ advanced
  std::string pending_;                    // guarded by mutex_
  std::uint64_t queued_lines_ = 0;         // guarded by mutex_: lines ever accepted
  std::uint64_t written_lines_ = 0;        // guarded by mutex_: lines ever written
  unsigned flush_waiters_ = 0;             // guarded by mutex_
  bool writer_waiting_ = false;            // guarded by mutex_: skip notify when busy
  bool stopping_ = false;                  // guarded by mutex_
  bool reopen_requested_ = false;          // guarded by mutex_

  std::thread writer_;  // last: started after everything above is ready
};

}  // namespace tally::proxy
