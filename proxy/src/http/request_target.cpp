#include "http/request_target.hpp"

#include <algorithm>

#include <boost/url/parse.hpp>

namespace tally::proxy {

bool request_path(std::string_view target, std::string_view& host, std::string_view& path) {
  if (!target.empty() && target.front() == '/') {
    path = target.substr(0, target.find('?'));
    return true;
  }
  if (target == "*") {
    path = target;
    return true;
  }
  auto url = boost::urls::parse_absolute_uri(target);
  // Only an http(s) URI with a host names something tally can route and send on in origin form.
  if (!url || !url->has_authority() || url->encoded_host().empty()) return false;
  if (url->scheme_id() != boost::urls::scheme::http &&
      url->scheme_id() != boost::urls::scheme::https)
    return false;
  host = url->encoded_host_and_port();
  path = url->encoded_path();
  if (path.empty()) path = "/";
  return true;
}

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 section 2.3.
bool unreserved(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// The common case costs one scan: no escape, no empty segment, no "." or ".." segment.
bool already_normal(std::string_view p) noexcept {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%') return false;
    if (p[i] != '/') continue;
    const auto end = std::min(p.find('/', i + 1), p.size());
    const auto segment = p.substr(i + 1, end - i - 1);
    if (segment == "." || segment == "..") return false;
    if (segment.empty() && end < p.size()) return false;  // "//"
  }
  return true;
}

char upper_hex(char c) noexcept {
  return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
}

}  // namespace

bool normalize_path(std::string_view path, std::string& storage, std::string_view& out) {
  if (path.empty() || path.front() != '/' || already_normal(path)) {
    out = path;
    return true;
  }
  std::string decoded;
  decoded.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    const int hi = c == '%' && i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
    // A '%' must start an escape (RFC 3986 2.1): left alone, "%6%41" would decode to "%6A",
    // which the backend would decode again to a path the routes never saw.
    if (c == '%' && lo < 0) return false;
    if (lo < 0) {
      decoded += c;
      continue;
    }
    const char value = static_cast<char>(hi * 16 + lo);
    if (unreserved(value)) {
      decoded += value;
    } else {
      decoded += '%';
      decoded += upper_hex(path[i + 1]);
      decoded += upper_hex(path[i + 2]);
    }
    i += 2;
  }
  // Segments are appended as "/name"; ".." takes back the last one.
  storage.clear();
  bool trailing_slash = false;
  for (std::size_t pos = 1; pos <= decoded.size();) {
    const auto end = std::min(decoded.find('/', pos), decoded.size());
    const std::string_view segment(decoded.data() + pos, end - pos);
    const bool last = end == decoded.size();
    if (segment == "..") {
      if (storage.empty()) return false;
      storage.erase(storage.rfind('/'));
    } else if (!segment.empty() && segment != ".") {
      storage += '/';
      storage += segment;
    }
    // "a/", "a/." and "a/.." name a directory: the slash stays.
    trailing_slash = last && (segment.empty() || segment == "." || segment == "..");
    pos = end + 1;
  }
  if (storage.empty() || trailing_slash) storage += '/';
  out = storage;
  return true;
}

}  // namespace tally::proxy
