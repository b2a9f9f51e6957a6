// Parsers for the scalar forms the schema uses (whole numbers, durations, sizes, addresses),
// returning the reason a text was rejected so the schema can tell the operator what to write.
// The public parse_* functions in load.hpp are thin wrappers that drop the reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tally/config/config.hpp"

namespace tally::config::detail {

template <class T>
struct parsed {
  std::optional<T> value;
  std::string problem;     // empty when value is set; what to write instead otherwise
  bool too_large = false;  // well formed, but the number does not fit

  static parsed failure(std::string why) { return {std::nullopt, std::move(why)}; }
  static parsed overflow(std::string why) { return {std::nullopt, std::move(why), true}; }
};

// Digits only: no sign, no fraction, no leading '+'. Problems: "must not be negative",
// "must be a whole number", "is too large".
parsed<std::uint64_t> parse_whole_number(std::string_view text);

parsed<duration> parse_duration(std::string_view text);
parsed<std::uint64_t> parse_size(std::string_view text);
// Accepts port 0; callers that need a real port check it themselves.
parsed<host_port> parse_host_port(std::string_view text);

// An IPv4 literal, or a DNS name of letters, digits, '-' and '.' (no empty label, no label
// starting or ending with '-'). IPv6 literals are checked by parse_host_port (brackets).
bool is_plausible_host(std::string_view host);

// Lowercased host and port: two addresses with the same identity are the same listener.
std::string address_identity(const host_port& address);

}  // namespace tally::config::detail
