// Pure header transformations applied on the way through the proxy (STYLE: header rewriting is
// a pure function with its own unit tests).
#pragma once

#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace tally::proxy {

struct forward_context {
  std::string_view client_ip;    // peer address of the downstream connection
  std::string_view request_id;   // X-Request-Id to send (kept from the client or generated)
  unsigned client_version = 11;  // 10 or 11: what the client spoke, for Via
  bool upgrade = false;          // keep Connection: upgrade + Upgrade (WebSocket and friends)
};

// Removes hop-by-hop headers and every header the Connection header names. Keeps
// Transfer-Encoding and Content-Length: they describe framing the serializer reproduces.
// Returns the Upgrade header's value when the message asks for an upgrade (else empty).
void strip_hop_by_hop(boost::beast::http::fields& f, bool keep_upgrade);

// Request to upstream: strip hop-by-hop, append X-Forwarded-For, set X-Forwarded-Proto and
// X-Forwarded-Host, append Via, set X-Request-Id.
void rewrite_request_headers(boost::beast::http::fields& f, const forward_context& ctx);

// Response to client: strip hop-by-hop (keeping the upgrade pair on a 101), append Via.
void rewrite_response_headers(boost::beast::http::fields& f, bool upgrade);

// True when the request asks to switch protocols: "Connection: upgrade" plus an Upgrade header.
bool wants_upgrade(const boost::beast::http::fields& f);

// An X-Request-Id from a client is kept when it is 1..128 visible ASCII characters.
bool valid_request_id(std::string_view id) noexcept;

}  // namespace tally::proxy
