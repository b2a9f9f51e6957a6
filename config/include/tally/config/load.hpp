// Parsing and validating a tally YAML file. Exceptions never leave these functions: every
// problem becomes a config_error with the file, line and column yaml-cpp marked.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tally/config/config.hpp"

namespace tally::config {

struct config_error {
  std::string file;
  int line = 0;    // 1-based; 0 when the error is not tied to a place (file unreadable)
  int column = 0;  // 1-based
  std::string message;
  // "FILE:LINE:COL: message" (or "FILE: message" without a place)
  std::string to_string() const;
};

struct load_result {
  std::shared_ptr<const config> value;  // null when errors is not empty
  std::vector<config_error> errors;     // every problem found, in file order
  // Not errors, but worth the operator's attention (a certificate that expires within 30 days);
  // `tally check` prints them, `serve` and reload log them.
  std::vector<config_error> warnings;
  bool ok() const { return value != nullptr; }
};

// What comes from outside the file.
struct load_options {
  // Replaces admin.token / admin.token_file when set (and not empty): TALLY_ADMIN_TOKEN.
  std::optional<std::string> admin_token_override;
  // The time certificate expiry is judged against (warnings); unset = the wall clock. Tests pin it.
  std::optional<std::chrono::system_clock::time_point> now;
};

// TALLY_ADMIN_TOKEN from the environment (an empty value counts as unset).
load_options load_options_from_environment();

// Reads and validates a file. Never throws. Without options, the environment's
// (load_options_from_environment()), so `tally check`, `tally serve` and every reload apply
// TALLY_ADMIN_TOKEN the same way.
load_result load_config_file(const std::string& path);
load_result load_config_file(const std::string& path, const load_options& options);

// Validates YAML text; `source_name` is what errors print as FILE, and the directory a relative
// admin.token_file is resolved against (the working directory when it has none).
load_result load_config_string(std::string_view yaml, std::string source_name);
load_result load_config_string(std::string_view yaml, std::string source_name,
                               const load_options& options);

// Parses "250ms", "2s", "1m", "1h" (whole numbers only). Returns nullopt when malformed.
std::optional<duration> parse_duration(std::string_view text);
// Parses "512", "16KiB", "10MiB", "1GiB" (also KB/MB/GB as powers of ten). nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view text);
// Parses "host:port" / "[v6]:port". nullopt when malformed or port out of 0..65535.
std::optional<host_port> parse_host_port(std::string_view text);

}  // namespace tally::config
