// How values appear in error messages, so every message shows them the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "tally/config/config.hpp"

namespace tally::config::detail {

// "a map", "a list", "nothing" or the quoted text of a scalar: what the operator wrote instead.
std::string describe(const YAML::Node& node);
// `"text"` with the quotes, as messages show values.
std::string quoted(std::string_view text);
// "1KiB", "100MiB", "500ms", "2s": the largest unit that divides the value exactly.
std::string format_size(std::uint64_t bytes);
std::string format_duration(duration d);

}  // namespace tally::config::detail
