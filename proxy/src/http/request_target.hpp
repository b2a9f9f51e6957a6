// Where a request goes, from its target: the path routes match and, for an absolute-form target,
// the host that replaces the Host header's (RFC 9112 section 3.2.2).
#pragma once

#include <string_view>

namespace tally::proxy {

// Origin-form up to the query, absolute-form's host and path, or "*". `host` is left alone unless
// the target names one. False when the target is none of these (answer 400).
bool request_path(std::string_view target, std::string_view& host, std::string_view& path);

}  // namespace tally::proxy
