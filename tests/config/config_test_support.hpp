// Helpers shared by the config tests: load YAML text as "t.yaml" and look at the errors.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tally/config/load.hpp"

namespace tally::config::test {

// Pools and routes are required; most tests append the section they exercise to this.
// It is 6 lines long, so a section appended after it starts on line 7.
inline constexpr std::string_view minimal_yaml =
    "pools:\n"
    "  web:\n"
    "    backends:\n"
    "      - { address: 127.0.0.1:9001 }\n"
    "routes:\n"
    "  - { pool: web }\n";

inline std::string after_minimal(std::string_view extra) {
  return std::string(minimal_yaml) + std::string(extra);
}

// Explicit options, so a TALLY_ADMIN_TOKEN in the test runner's environment changes nothing.
inline load_result load(std::string_view yaml, const load_options& options = {}) {
  return load_config_string(yaml, "t.yaml", options);
}

inline std::vector<std::string> error_texts(const load_result& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors)
    out.push_back(e.to_string());
  return out;
}

// The one error `yaml` produces, as "FILE:LINE:COL: message"; fails the test when there are
// none or several (a second error would mean a cascade the operator should not see).
inline std::string only_error(std::string_view yaml, const load_options& options = {}) {
  auto r = load(yaml, options);
  auto texts = error_texts(r);
  std::string all;
  for (const auto& t : texts)
    all += "\n  " + t;
  INFO("errors:" << all);
  CHECK_FALSE(r.ok());
  CHECK(texts.size() == 1);
  if (texts.empty()) return "(no error)";
  return texts.front();
}

inline bool starts_with(const std::string& text, std::string_view prefix) {
  return text.rfind(prefix, 0) == 0;
}

inline bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace tally::config::test
