#include "diagnostics.hpp"

#include <algorithm>
#include <tuple>

namespace tally::config::detail {

namespace {

config_error placed(const std::string& file, const YAML::Mark& at, std::string message) {
  int line = at.line >= 0 ? at.line + 1 : 1;
  int column = at.line >= 0 && at.column >= 0 ? at.column + 1 : 1;
  return config_error{file, line, column, std::move(message)};
}

void sort_in_file_order(std::vector<config_error>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
}

}  // namespace

void diagnostics::report(const YAML::Mark& at, std::string message) {
  errors_.push_back(placed(file_, at, std::move(message)));
}

void diagnostics::warn(const YAML::Mark& at, std::string message) {
  warnings_.push_back(placed(file_, at, std::move(message)));
}

void diagnostics::report_unplaced(std::string message) {
  errors_.push_back(config_error{file_, 0, 0, std::move(message)});
}

std::vector<config_error> diagnostics::take_in_file_order() {
  sort_in_file_order(errors_);
  return std::move(errors_);
}

std::vector<config_error> diagnostics::take_warnings_in_file_order() {
  sort_in_file_order(warnings_);
  return std::move(warnings_);
}

YAML::Mark mark_or(const YAML::Node& node, const YAML::Mark& fallback) {
  // yaml-cpp places an empty value at the next token, often on a later line: not useful.
  if (!node.IsDefined() || node.IsNull()) return fallback;
  auto mark = node.Mark();
  return mark.line >= 0 ? mark : fallback;
}

}  // namespace tally::config::detail
