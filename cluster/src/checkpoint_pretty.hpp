// Human-readable JSON layout for checkpoint files: containers that hold no array print on one
// line (a backend, an HLC), the rest are indented. Boost 1.81 has no pretty printer of its own.
#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace tally::cluster::detail {

std::string pretty_json(const boost::json::value& value);

}  // namespace tally::cluster::detail
