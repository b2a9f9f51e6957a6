// Where a request goes, from its target: the path routes match and, for an absolute-form target,
// the authority that replaces the Host header's (RFC 9112 section 3.2.2).
#pragma once

#include <string>
#include <string_view>

namespace tally::proxy {

// Origin-form up to the query, absolute-form's authority (host[:port]) and path, or "*". `host`
// is left alone unless the target names one. False when the target is none of these, or an
// absolute URI that is not http(s) with a host (answer 400).
bool request_path(std::string_view target, std::string_view& host, std::string_view& path);

// The path routes match and the backend receives (SPEC "Proxying", Edges), so both see the same
// resource: unreserved characters percent-decoded (other escapes kept, hex upper-cased), repeated
// slashes merged, dot-segments removed (RFC 3986 section 5.2.4). `path` has no query. `out` is
// `path` itself when nothing changes (no copy), else the normalised path in `storage`. False when
// a ".." climbs above "/" (answer 400).
bool normalize_path(std::string_view path, std::string& storage, std::string_view& out);

}  // namespace tally::proxy
