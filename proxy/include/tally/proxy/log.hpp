// Operational log lines on stderr: "2026-11-26T04:27:58.123Z level message" (log.format text) or
// {"time":"…","level":"…","message":"…"} (json). Used for start-up, reloads, health transitions
// and the like — never per request (that is the access log).
#pragma once

#include <string_view>

namespace tally::proxy {

enum class log_level { debug, info, warn, error };
enum class log_format { text, json };

// From log.level and log.format; applied at start and on every reload, from any thread.
void set_log_options(log_level min_level, log_format format) noexcept;
bool log_enabled(log_level level) noexcept;

void log(log_level level, std::string_view message);
inline void log_debug(std::string_view m) {
  log(log_level::debug, m);
}
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
