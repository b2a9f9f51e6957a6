#include "tally/balancer/hash.hpp"

namespace tally::balancer {
namespace {
constexpr std::uint64_t fnv_offset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t fnv_prime = 0x100000001b3ULL;

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}
}  // namespace

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) noexcept {
  std::uint64_t h = fnv_offset ^ mix64(seed);
  for (unsigned char c : bytes) {
    h ^= c;
    h *= fnv_prime;
  }
  // Folding the length in keeps "" and "\0" apart after the avalanche.
  return mix64(h ^ bytes.size());
}

std::uint64_t hash_bytes(std::string_view bytes) noexcept {
  return hash_bytes(bytes, 0);
}

std::optional<std::string_view> find_cookie(std::string_view cookie_header,
                                            std::string_view name) noexcept {
  // RFC 6265 section 4.2.1: cookie-pair *( ";" SP cookie-pair ); be lenient about spaces.
  while (!cookie_header.empty()) {
    auto end = cookie_header.find(';');
    auto pair = trim(cookie_header.substr(0, end));
    cookie_header =
        end == std::string_view::npos ? std::string_view{} : cookie_header.substr(end + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(pair.substr(0, eq)) != name) continue;
    auto value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return std::nullopt;
}

std::uint64_t hash_key(const config::hash_key_config& cfg, const hash_source& src) noexcept {
  using source = config::hash_key_config::source;
  switch (cfg.from) {
    case source::client_ip:
      break;
    case source::header:
      if (src.header_value) return hash_bytes(*src.header_value);
      break;
    case source::cookie:
      if (src.cookie_header) {
        if (auto v = find_cookie(*src.cookie_header, cfg.name)) return hash_bytes(*v);
      }
      break;
  }
  return hash_bytes(src.client_ip);
}

}  // namespace tally::balancer
