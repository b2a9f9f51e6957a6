// Authentication of the peer protocol (POST /cluster/votes). Replicas share the admin token; each
// request carries
//   X-Tally-Signature: t=<unix ms>,sig=<64 lowercase hex digits>
// where sig = HMAC-SHA256(key = token, data = "<t>." + body), the decimal text of t, a dot, then
// the body bytes exactly as sent. The MAC proves the sender holds the token and that neither the
// body nor t was changed; t bounds how long a captured request stays usable, and within that
// window the receiver's (incarnation, seq) check refuses the copy. The Bearer token the admin
// server checks first stays as it is; the signature is what the cluster code relies on.
//
// Pure functions, no state: the gossip client signs with whatever token is current, and the
// receiver verifies with its own current token.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace tally::cluster {

inline constexpr std::string_view signature_header = "X-Tally-Signature";

// The header value for `body` sent at `timestamp_ms` (Unix ms). Empty when the token is empty
// (nothing to sign with) or OpenSSL fails, which the receiver then refuses.
std::string sign_message(std::string_view token, std::int64_t timestamp_ms, std::string_view body);

enum class signature_status {
  ok,
  missing,    // no header (or an empty one)
  malformed,  // not "t=<digits>,sig=<64 hex>"
  mismatch,   // wrong token, or body/t changed in transit
  too_old,    // t more than max_age before now: a late copy of an old request
  too_new,    // t more than max_ahead after now: the sender's clock is too far ahead
};

struct signature_check {
  signature_status status = signature_status::missing;
  std::int64_t timestamp_ms = 0;  // t as parsed (0 when missing or malformed)
  explicit operator bool() const noexcept { return status == signature_status::ok; }
};

// Checks the MAC first (in constant time), so an unauthenticated request is only ever
// `missing`, `malformed` or `mismatch`, whatever t it claims; then t against
// [now_ms - max_age, now_ms + max_ahead]. An empty token verifies nothing: mismatch.
signature_check verify_message(std::string_view token, std::string_view header,
                               std::string_view body, std::int64_t now_ms,
                               std::chrono::milliseconds max_age,
                               std::chrono::milliseconds max_ahead);

// "missing X-Tally-Signature header" etc.: for logs and the 401 body.
const char* describe(signature_status s) noexcept;

}  // namespace tally::cluster
