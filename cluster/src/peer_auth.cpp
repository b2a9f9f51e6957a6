#include "tally/cluster/peer_auth.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <limits>
#include <memory>
#include <optional>

namespace tally::cluster {

namespace {

constexpr std::size_t mac_bytes = 32;
using mac = std::array<unsigned char, mac_bytes>;

struct mac_deleter {
  void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
  void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};

// HMAC-SHA256 over "<t>.<body>" without building that string: the body can be 256 KiB.
std::optional<mac> compute(std::string_view token, std::string_view t_text, std::string_view body) {
  std::unique_ptr<EVP_MAC, mac_deleter> hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!hmac) return std::nullopt;
  std::unique_ptr<EVP_MAC_CTX, mac_deleter> ctx(EVP_MAC_CTX_new(hmac.get()));
  if (!ctx) return std::nullopt;
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  const auto* key = reinterpret_cast<const unsigned char*>(token.data());
  if (EVP_MAC_init(ctx.get(), key, token.size(), params) != 1) return std::nullopt;
  auto feed = [&](std::string_view part) {
    return EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()),
                          part.size()) == 1;
  };
  if (!feed(t_text) || !feed(".") || !feed(body)) return std::nullopt;
  mac out{};
  std::size_t length = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &length, out.size()) != 1 || length != mac_bytes)
    return std::nullopt;
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase too: the format says lowercase, and one spelling means one check
}

struct parsed_header {
  std::int64_t t = 0;
  std::string_view t_text;
  mac sig{};
};

std::optional<parsed_header> parse(std::string_view header) {
  constexpr std::string_view t_prefix = "t=";
  constexpr std::string_view sig_prefix = ",sig=";
  if (header.substr(0, t_prefix.size()) != t_prefix) return std::nullopt;
  header.remove_prefix(t_prefix.size());
  const auto comma = header.find(',');
  if (comma == std::string_view::npos || comma == 0 || comma > 19) return std::nullopt;
  parsed_header out;
  out.t_text = header.substr(0, comma);
  if (out.t_text.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  auto [end, ec] = std::from_chars(out.t_text.data(), out.t_text.data() + out.t_text.size(), out.t);
  if (ec != std::errc() || end != out.t_text.data() + out.t_text.size()) return std::nullopt;
  header.remove_prefix(comma);
  if (header.substr(0, sig_prefix.size()) != sig_prefix) return std::nullopt;
  header.remove_prefix(sig_prefix.size());
  if (header.size() != 2 * mac_bytes) return std::nullopt;
  for (std::size_t i = 0; i < mac_bytes; ++i) {
    const int hi = hex_value(header[2 * i]);
    const int lo = hex_value(header[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.sig[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  if (b > 0 && a > max - b) return max;
  if (b < 0 && a < min - b) return min;
  return a + b;
}

}  // namespace

std::string sign_message(std::string_view token, std::int64_t timestamp_ms, std::string_view body) {
  if (token.empty() || timestamp_ms < 0) return {};
  const std::string t_text = std::to_string(timestamp_ms);
  const auto m = compute(token, t_text, body);
  if (!m) return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "t=" + t_text + ",sig=";
  out.reserve(out.size() + 2 * mac_bytes);
  for (unsigned char byte : *m) {
    out += hex[byte >> 4];
    out += hex[byte & 0xf];
  }
  return out;
}

signature_check verify_message(std::string_view token, std::string_view header,
                               std::string_view body, std::int64_t now_ms,
                               std::chrono::milliseconds max_age,
                               std::chrono::milliseconds max_ahead) {
  if (header.empty()) return {signature_status::missing, 0};
  const auto parsed = parse(header);
  if (!parsed) return {signature_status::malformed, 0};
  if (token.empty()) return {signature_status::mismatch, 0};
  const auto expected = compute(token, parsed->t_text, body);
  if (!expected || CRYPTO_memcmp(expected->data(), parsed->sig.data(), mac_bytes) != 0)
    return {signature_status::mismatch, 0};
  if (parsed->t < saturating_add(now_ms, -max_age.count()))
    return {signature_status::too_old, parsed->t};
  if (parsed->t > saturating_add(now_ms, max_ahead.count()))
    return {signature_status::too_new, parsed->t};
  return {signature_status::ok, parsed->t};
}

const char* describe(signature_status s) noexcept {
  switch (s) {
    case signature_status::ok:
      return "valid signature";
    case signature_status::missing:
      return "missing X-Tally-Signature header";
    case signature_status::malformed:
      return "malformed X-Tally-Signature header (expected t=<unix ms>,sig=<64 hex digits>)";
    case signature_status::mismatch:
      return "X-Tally-Signature does not match: the replicas do not share the same admin token";
    case signature_status::too_old:
      return "X-Tally-Signature timestamp is too old (a delayed or replayed request)";
    case signature_status::too_new:
      return "X-Tally-Signature timestamp is too far ahead of this replica's clock";
  }
  return "unknown signature status";
}

}  // namespace tally::cluster
