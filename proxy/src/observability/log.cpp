#include "tally/proxy/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace tally::proxy {
namespace {

std::atomic<log_level> min_level{log_level::info};
std::atomic<log_format> line_format{log_format::text};

const char* name_of(log_level level) {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      break;
  }
  return "error";
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
  return stamp;
}

std::string json_string(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

// One write(2) per line keeps lines whole when several threads log at once, and an error (a
// closed stderr: EBADF, EPIPE with SIGPIPE ignored) loses the line instead of the process.
void write_line(const std::string& line) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::size_t done = 0;
  while (done < line.size()) {
    auto n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void set_log_options(log_level level, log_format format) noexcept {
  min_level.store(level, std::memory_order_relaxed);
  line_format.store(format, std::memory_order_relaxed);
}

bool log_enabled(log_level level) noexcept {
  return level >= min_level.load(std::memory_order_relaxed);
}

void log(log_level level, std::string_view message) {
  if (!log_enabled(level)) return;
  std::string line;
  line.reserve(64 + message.size());
  if (line_format.load(std::memory_order_relaxed) == log_format::json) {
    line.append(R"({"time":")").append(timestamp()).append(R"(","level":")");
    line.append(name_of(level)).append(R"(","message":)").append(json_string(message));
    line.append("}\n");
  } else {
    line.append(timestamp()).append(" ").append(name_of(level)).append(" ").append(message);
    line.append("\n");
  }
  write_line(line);
}

}  // namespace tally::proxy
