#include "tally/config/load.hpp"

namespace tally::config {

std::string config_error::to_string() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

}  // namespace tally::config
