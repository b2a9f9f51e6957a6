// Collects every problem found in one file so the operator sees them all at once, in file order.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "tally/config/load.hpp"

namespace tally::config::detail {

class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}

  // `at` is a yaml-cpp mark (0-based); errors print 1-based. A mark yaml-cpp left unset (-1)
  // prints as the start of the file rather than as a negative position.
  void report(const YAML::Mark& at, std::string message);
  // For problems that have no place in the text (unreadable file).
  void report_unplaced(std::string message);
  // Not an error: the config still loads (a certificate that expires soon).
  void warn(const YAML::Mark& at, std::string message);

  bool empty() const { return errors_.empty(); }
  const std::string& file() const { return file_; }

  // Sorted by line and column; problems at one place keep the order they were found in.
  std::vector<config_error> take_in_file_order();
  std::vector<config_error> take_warnings_in_file_order();

 private:
  std::string file_;
  std::vector<config_error> errors_;
  std::vector<config_error> warnings_;
};

// The mark of a node, or `fallback` when the node is absent or empty.
YAML::Mark mark_or(const YAML::Node& node, const YAML::Mark& fallback);

}  // namespace tally::config::detail
