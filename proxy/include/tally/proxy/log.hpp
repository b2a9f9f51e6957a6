// Operational log lines on stderr: "2026-11-26T04:27:58.123Z level message". Used for start-up,
// reloads, health transitions and the like — never per request (that is the access log).
#pragma once

#include <string_view>

namespace tally::proxy {

enum class log_level { info, warn, error };

void log(log_level level, std::string_view message);
inline void log_info(std::string_view m) {
  log(log_level::info, m);
}
inline void log_warn(std::string_view m) {
  log(log_level::warn, m);
}
inline void log_error(std::string_view m) {
  log(log_level::error, m);
}

}  // namespace tally::proxy
