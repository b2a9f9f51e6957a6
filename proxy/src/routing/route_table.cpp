#include "tally/proxy/route_table.hpp"

#include <algorithm>
#include <cctype>

namespace tally::proxy {
namespace {

char lower(char c) noexcept {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// `pattern` is already lowercase.
bool iequals(std::string_view value, std::string_view pattern) noexcept {
  if (value.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < value.size(); ++i)
    if (lower(value[i]) != pattern[i]) return false;
  return true;
}

bool host_matches(const route_entry& r, std::string_view host) noexcept {
  if (r.host.empty()) return true;
  if (!r.wildcard) return iequals(host, r.host);
  // "*.example.com" needs at least one label before the suffix: "a.example.com" matches,
  // "example.com" does not.
  if (host.size() <= r.host.size()) return false;
  return iequals(host.substr(host.size() - r.host.size()), r.host);
}

}  // namespace

std::string_view strip_port(std::string_view host) noexcept {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  auto colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(':') == colon) return host.substr(0, colon);
  return host;
}

route_table::route_table(const std::vector<config::route_config>& routes) {
  entries_.reserve(routes.size());
  for (const auto& rc : routes) {
    route_entry e;
    std::string host = rc.host;
    std::transform(host.begin(), host.end(), host.begin(), lower);
    if (host.rfind("*.", 0) == 0) {
      e.wildcard = true;
      e.host = host.substr(1);
    } else {
      e.host = std::move(host);
    }
    e.path_prefix = rc.path_prefix.empty() ? "/" : rc.path_prefix;
    e.pool_index = rc.pool_index;
    e.pool_name = rc.pool;
    entries_.push_back(std::move(e));
  }
}

const route_entry* route_table::match(std::string_view host, std::string_view path) const noexcept {
  host = strip_port(host);
  if (!host.empty() && host.back() == '.')
    host.remove_suffix(1);  // "example.com." is the same host
  for (const auto& r : entries_) {
    if (!host_matches(r, host)) continue;
    if (path.substr(0, r.path_prefix.size()) == r.path_prefix) return &r;
  }
  return nullptr;
}

}  // namespace tally::proxy
