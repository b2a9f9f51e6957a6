#include "scalars.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "tally/config/load.hpp"

namespace tally::config::detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Splits "250ms" into "250" and "ms" at the first character that is not a digit.
std::pair<std::string_view, std::string_view> split_number_and_unit(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i]))
    ++i;
  return {text.substr(0, i), text.substr(i)};
}

// Multiplies without wrapping around: nullopt when the product exceeds `limit`.
std::optional<std::uint64_t> checked_multiply(std::uint64_t a, std::uint64_t b,
                                              std::uint64_t limit) {
  if (b != 0 && a > limit / b) return std::nullopt;
  return a * b;
}

bool is_ipv4_literal(std::string_view host) {
  std::string copy(host);
  in_addr out{};
  return inet_pton(AF_INET, copy.c_str(), &out) == 1;
}

bool is_ipv6_literal(std::string_view host) {
  std::string copy(host);
  in6_addr out{};
  return inet_pton(AF_INET6, copy.c_str(), &out) == 1;
}

bool is_dns_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '-'; });
}

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  while (true) {
    auto dot = name.find('.');
    if (!is_dns_label(name.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

parsed<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return parsed<std::uint16_t>::failure("has no port after ':'");
  auto number = parse_whole_number(text);
  if (!number.value || *number.value > 65535)
    return parsed<std::uint16_t>::failure("has a port that is not a number from 0 to 65535");
  return {static_cast<std::uint16_t>(*number.value), {}};
}

}  // namespace

parsed<std::uint64_t> parse_whole_number(std::string_view text) {
  using result = parsed<std::uint64_t>;
  if (text.empty()) return result::failure("must be a whole number");
  if (text.front() == '-') {
    bool negative_number = parse_whole_number(text.substr(1)).value.has_value();
    return result::failure(negative_number ? "must not be negative" : "must be a whole number");
  }
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return result::failure("must be a whole number");
    // Leaves room for the next digit; rejects a few values just below 2^64, which is fine.
    auto shifted = checked_multiply(value, 10, std::numeric_limits<std::uint64_t>::max() - 9);
    if (!shifted) return result::overflow("is too large");
    value = *shifted + static_cast<unsigned>(c - '0');
  }
  return {value, {}};
}

parsed<duration> parse_duration(std::string_view text) {
  using result = parsed<duration>;
  struct unit {
    std::string_view name;
    std::uint64_t milliseconds;
  };
  static constexpr std::array<unit, 4> units{
      {{"ms", 1}, {"s", 1000}, {"m", 60ull * 1000}, {"h", 60ull * 60 * 1000}}};

  auto [digits, suffix] = split_number_and_unit(text);
  auto found =
      std::find_if(units.begin(), units.end(), [&](const unit& u) { return u.name == suffix; });
  if (digits.empty() || found == units.end())
    return result::failure("use a whole number with ms, s, m or h, like 250ms or 2s");
  auto number = parse_whole_number(digits);
  constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max());
  auto total =
      number.value ? checked_multiply(*number.value, found->milliseconds, limit) : std::nullopt;
  if (!total) return result::overflow("is too large");
  return {duration{static_cast<duration::rep>(*total)}, {}};
}

parsed<std::uint64_t> parse_size(std::string_view text) {
  using result = parsed<std::uint64_t>;
  struct unit {
    std::string_view name;
    std::uint64_t bytes;
  };
  static constexpr std::array<unit, 8> units{{{"", 1},
                                              {"B", 1},
                                              {"KiB", 1ull << 10},
                                              {"MiB", 1ull << 20},
                                              {"GiB", 1ull << 30},
                                              {"KB", 1000},
                                              {"MB", 1000ull * 1000},
                                              {"GB", 1000ull * 1000 * 1000}}};

  auto [digits, suffix] = split_number_and_unit(text);
  auto found =
      std::find_if(units.begin(), units.end(), [&](const unit& u) { return u.name == suffix; });
  if (digits.empty() || found == units.end())
    return result::failure(
        "use a whole number with an optional unit B, KiB, MiB, GiB, KB, MB or GB, like 16KiB");
  auto number = parse_whole_number(digits);
  auto total = number.value ? checked_multiply(*number.value, found->bytes,
                                               std::numeric_limits<std::uint64_t>::max())
                            : std::nullopt;
  if (!total) return result::overflow("is too large; sizes must be below 16EiB");
  return {*total, {}};
}

parsed<host_port> parse_host_port(std::string_view text) {
  using result = parsed<host_port>;
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return result::failure("must be [IPv6]:port, like [::1]:8080");
    host = text.substr(1, close - 1);
    if (!is_ipv6_literal(host)) return result::failure("has an invalid IPv6 address in brackets");
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return result::failure("has no port; write host:port");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos)
      return result::failure("has an IPv6 address without brackets; write it like [::1]:8080");
    if (host.empty())
      return result::failure("has no host; write 0.0.0.0:PORT to use every address");
    if (!is_plausible_host(host))
      return result::failure(
          "has a host that is neither an IP address nor a DNS name (letters, digits, '-', '.')");
    port_text = text.substr(colon + 1);
  }
  auto port = parse_port(port_text);
  if (!port.value) return result::failure(port.problem);
  return {host_port{std::string(host), *port.value, std::string(text)}, {}};
}

bool is_plausible_host(std::string_view host) {
  bool looks_numeric = !host.empty() && std::all_of(host.begin(), host.end(),
                                                    [](char c) { return is_digit(c) || c == '.'; });
  // "1.2.3" or "999.1.1.1" are typos of an address, not DNS names.
  if (looks_numeric) return is_ipv4_literal(host);
  return is_dns_name(host);
}

std::string address_identity(const host_port& address) {
  std::string identity = address.host;
  std::transform(identity.begin(), identity.end(), identity.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return identity + ":" + std::to_string(address.port);
}

}  // namespace tally::config::detail

namespace tally::config {

std::optional<duration> parse_duration(std::string_view text) {
  return detail::parse_duration(text).value;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  return detail::parse_size(text).value;
}

std::optional<host_port> parse_host_port(std::string_view text) {
  return detail::parse_host_port(text).value;
}

}  // namespace tally::config
