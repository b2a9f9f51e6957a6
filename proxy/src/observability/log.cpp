#include "tally/proxy/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace tally::proxy {

void log(log_level level, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  const char* name = level == log_level::info   ? "info"
                     : level == log_level::warn ? "warn"
                                                : "error";
  std::string line;
  line.reserve(48 + message.size());
  line.append(stamp).append(".");
  char frac[8];
  std::snprintf(frac, sizeof frac, "%03d", static_cast<int>(ms));
  line.append(frac).append("Z ").append(name).append(" ").append(message).append("\n");
  // One write per line keeps lines whole when several threads log at once.
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tally::proxy
