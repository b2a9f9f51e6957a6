// Route matching: first route whose host and path prefix match wins. Built once per routing
// snapshot; match() is called per request and neither allocates nor locks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tally/config/config.hpp"

namespace tally::proxy {

struct route_entry {
  std::string host;         // lowercased; empty = any host
  bool wildcard = false;    // host was "*.example.com": `host` holds ".example.com"
  std::string path_prefix;  // plain string prefix of the path, as Envoy and nginx do
  std::size_t pool_index = 0;
  std::string pool_name;
};

class route_table {
 public:
  route_table() = default;
  explicit route_table(const std::vector<config::route_config>& routes);

  // `host` is the Host header value as received (any case, optional ":port", "[v6]:port");
  // `path` is the request path without the query. Returns null when no route matches.
  const route_entry* match(std::string_view host, std::string_view path) const noexcept;

  const std::vector<route_entry>& entries() const noexcept { return entries_; }

 private:
  std::vector<route_entry> entries_;
};

// "Example.COM:8080" -> "Example.COM", "[::1]:80" -> "::1" (no case change, no allocation).
std::string_view strip_port(std::string_view host) noexcept;

}  // namespace tally::proxy
