#include "tally/proxy/access_log.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "tally/proxy/log.hpp"

namespace tally::proxy {
namespace {

// The writer sleeps at most this long between batches: lines reach the file within ~50 ms at
// low traffic, and workers do not pay a futex wake-up per line. Under load the writer is woken
// early once a quarter of the capacity is pending, so the queue does not fill while it sleeps.
constexpr std::chrono::milliseconds writer_interval{50};

constexpr char hex_digits[] = "0123456789abcdef";

void append_escaped_byte(std::string& out, unsigned char c) {
  const char esc[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0xf]};
  out.append(esc, sizeof esc);
}

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode table 3-7: no overlongs,
// no surrogates, nothing above U+10FFFF), or 0 if the byte there does not start one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return i + k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  const unsigned char c = byte(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run of printable ASCII that needs no escaping in one append.
    std::size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;

    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      out.append("\\n");
      ++i;
    } else if (c == '\r') {
      out.append("\\r");
      ++i;
    } else if (c == '\t') {
      out.append("\\t");
      ++i;
    } else if (const std::size_t n = c < 0x80 ? 0 : utf8_sequence_length(s, i); n != 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      // Other control characters, DEL, and bytes that are not UTF-8: keep the byte's value
      // visible (as U+00XX) and the line valid JSON.
      append_escaped_byte(out, c);
      ++i;
    }
  }
  out.push_back('"');
}

void append_string_or_null(std::string& out, std::string_view s) {
  if (s.empty()) {
    out.append("null");
  } else {
    append_json_string(out, s);
  }
}

template <typename Int>
void append_int(std::string& out, Int value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

void append_digits(std::string& out, unsigned value, int width) {
  char buf[8];
  for (int k = width - 1; k >= 0; --k) {
    buf[k] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

// "2026-11-26T04:27:58.123Z". The calendar part only changes once a second, so each thread
// keeps the last one it formatted.
void append_rfc3339_ms(std::string& out, std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(tp);
  const auto secs = floor<seconds>(ms);
  thread_local sys_seconds cached_secs{seconds{-1}};
  thread_local std::string cached_prefix;  // "YYYY-MM-DDTHH:MM:SS"
  if (secs != cached_secs || cached_prefix.empty()) {
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss hms{secs - day};
    cached_prefix.clear();
    append_digits(cached_prefix, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
    cached_prefix.push_back('-');
    append_digits(cached_prefix, static_cast<unsigned>(ymd.month()), 2);
    cached_prefix.push_back('-');
    append_digits(cached_prefix, static_cast<unsigned>(ymd.day()), 2);
    cached_prefix.push_back('T');
    append_digits(cached_prefix, static_cast<unsigned>(hms.hours().count()), 2);
    cached_prefix.push_back(':');
    append_digits(cached_prefix, static_cast<unsigned>(hms.minutes().count()), 2);
    cached_prefix.push_back(':');
    append_digits(cached_prefix, static_cast<unsigned>(hms.seconds().count()), 2);
    cached_secs = secs;
  }
  out.append(cached_prefix);
  out.push_back('.');
  append_digits(out, static_cast<unsigned>((ms - secs).count()), 3);
  out.push_back('Z');
}

// Milliseconds with three decimals, from integer microseconds: exact and locale-free.
void append_ms(std::string& out, std::chrono::nanoseconds d) {
  const auto us =
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  append_int(out, us / 1000);
  out.push_back('.');
  append_digits(out, static_cast<unsigned>(us % 1000), 3);
}

constexpr std::array<std::string_view, 17> termination_names{"ok",
                                                             "client_closed",
                                                             "no_route",
                                                             "no_healthy_backend",
                                                             "queue_full",
                                                             "connect_failure",
                                                             "upstream_reset",
                                                             "upstream_protocol",
                                                             "upstream_timeout",
                                                             "upstream_aborted",
                                                             "bad_request",
                                                             "smuggling_rejected",
                                                             "header_timeout",
                                                             "body_too_large",
                                                             "headers_too_large",
                                                             "local_error",
                                                             "upstream_tls"};
static_assert(termination_names.size() ==
              static_cast<std::size_t>(access_termination::upstream_tls) + 1);

}  // namespace

std::string_view to_string(access_termination t) noexcept {
  const auto i = static_cast<std::size_t>(t);
  return i < termination_names.size() ? termination_names[i] : "unknown";
}

void format_access_record(const access_record& r, std::string& out) {
  const auto when =
      r.time.time_since_epoch().count() == 0 ? std::chrono::system_clock::now() : r.time;
  out.append(R"({"time":")");
  append_rfc3339_ms(out, when);
  out.append(R"(","client":)");
  append_json_string(out, r.client);
  out.append(R"(,"method":)");
  append_json_string(out, r.method);
  out.append(R"(,"host":)");
  append_string_or_null(out, r.host);
  out.append(R"(,"target":)");
  append_json_string(out, r.target);
  out.append(R"(,"status":)");
  append_int(out, r.status);
  out.append(R"(,"bytes_in":)");
  append_int(out, r.bytes_in);
  out.append(R"(,"bytes_out":)");
  append_int(out, r.bytes_out);
  out.append(R"(,"duration_ms":)");
  append_ms(out, r.duration);
  out.append(R"(,"pool":)");
  append_string_or_null(out, r.pool);
  out.append(R"(,"backend":)");
  append_string_or_null(out, r.backend);
  out.append(R"(,"upstream_ms":)");
  if (r.upstream_duration.count() < 0)
    out.append("null");
  else
    append_ms(out, r.upstream_duration);
  out.append(R"(,"tries":)");
  append_int(out, r.tries);
  out.append(R"(,"termination":")");
  out.append(to_string(r.termination));
  out.push_back('"');
  out.append(R"(,"request_id":)");
  append_json_string(out, r.request_id);
  out.append("}\n");
}

access_log::access_log(std::string path, std::size_t capacity_bytes)
    : path_(std::move(path)), capacity_(capacity_bytes) {
  if (path_ == "-") {
    // A private duplicate: the log keeps working if someone later redirects fd 1.
    fd_ = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
  } else {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  if (fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "access log " + path_);
  }
  // Reserved once: appending within capacity_ never reallocates, so write() does not allocate.
  pending_.reserve(capacity_);

  // The writer blocks every signal: SIGPIPE on a closed stdout becomes EPIPE (counted) instead
  // of killing the process, and process-directed signals go to the workers' signal handling.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  try {
    writer_ = std::thread([this] { run(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::close(fd_);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

access_log::~access_log() {
  flush();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  writer_.join();
  ::close(fd_);
}

bool access_log::write(const access_record& record) {
  // Reused per thread: after the first few requests it has room for any line, so formatting
  // does not allocate either.
  thread_local std::string line;
  line.clear();
  format_access_record(record, line);

  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || line.size() > capacity_ - pending_.size()) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    pending_.append(line);
    ++queued_lines_;
    if (writer_waiting_ && pending_.size() >= capacity_ / 4) {
      writer_waiting_ = false;  // one wake-up is enough
      wake = true;
    }
  }
  if (wake) wake_writer_.notify_one();
  return true;
}

void access_log::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = queued_lines_;
  if (written_lines_ >= target && !reopen_requested_) return;
  ++flush_waiters_;
  lock.unlock();
  wake_writer_.notify_one();
  lock.lock();
  batch_written_.wait(lock, [&] { return written_lines_ >= target && !reopen_requested_; });
  --flush_waiters_;
}

std::uint64_t access_log::written() const noexcept {
  std::lock_guard lock(mutex_);
  return written_lines_;
}

void access_log::run() {
  std::string batch;
  batch.reserve(capacity_);
  std::unique_lock lock(mutex_);
  for (;;) {
    writer_waiting_ = true;
    wake_writer_.wait_for(lock, writer_interval, [&] {
      return stopping_ || reopen_requested_ ||
             (!pending_.empty() && (flush_waiters_ > 0 || pending_.size() >= capacity_ / 4));
    });
    writer_waiting_ = false;
    if (pending_.empty()) {
      if (reopen_requested_) reopen_locked(lock);
      if (stopping_) return;
      continue;
    }
    // Swap, not copy: the producers get the (empty, still reserved) buffer just written.
    batch.swap(pending_);
    const std::uint64_t lines = queued_lines_;
    lock.unlock();
    write_all(batch);
    batch.clear();
    lock.lock();
    written_lines_ = lines;
    batch_written_.notify_all();
    // What was queued before the request went to the old file; the rest goes to the new one.
    if (reopen_requested_) reopen_locked(lock);
  }
}

void access_log::reopen() {
  if (path_ == "-") return;
  {
    std::lock_guard lock(mutex_);
    reopen_requested_ = true;
  }
  wake_writer_.notify_one();
}

void access_log::reopen_locked(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  reopen_file();
  lock.lock();
  // Cleared only now, so flush() returns after the reopen, not while it is under way.
  reopen_requested_ = false;
  batch_written_.notify_all();
}

void access_log::reopen_file() {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    log_warn("access log: cannot reopen " + path_ + ": " + std::strerror(errno) +
             "; still writing to the file opened before (check the directory's permissions)");
    return;
  }
  ::close(fd_);
  fd_ = fd;
  reopens_.fetch_add(1, std::memory_order_relaxed);
  log_info("access log: reopened " + path_);
}

void access_log::write_all(const std::string& batch) {
  const char* p = batch.data();
  std::size_t left = batch.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Disk full, EPIPE, ...: lose this batch rather than spin or stall the producers.
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace tally::proxy
