// The headers tally sends on: pure functions from a parsed header to the serialized head the
// other side receives (STYLE: header rewriting is a pure function with its own unit tests).
//
// They write the head in one pass over the parsed fields instead of editing the fields and then
// serializing them: no field is erased or inserted, so nothing is allocated per request.
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

namespace tally::proxy {

struct forward_context {
  std::string_view client_ip;    // peer address of the downstream connection
  std::string_view request_id;   // X-Request-Id to send (kept from the client or generated)
  unsigned client_version = 11;  // 10 or 11: what the client spoke, for Via
  bool upgrade = false;          // keep Connection: upgrade + Upgrade (WebSocket and friends)
  std::string_view target;       // the request target to send; empty: the client's
  std::string_view host;         // replaces Host (an absolute-form target's authority); empty: kept
  bool secure = false;           // the client connection is TLS: X-Forwarded-Proto: https
};

// Request line and fields for the backend: always HTTP/1.1; hop-by-hop fields (Connection,
// Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade unless upgrading) and every field named in
// Connection removed; X-Forwarded-For appended to (several fields merged into one list),
// X-Forwarded-Proto and X-Forwarded-Host set, Via appended to, X-Request-Id set. Repeated
// identical Content-Length values (the parser refuses different ones) leave as one field.
template <class Fields>
void serialize_upstream_request(std::string& out,
                                const boost::beast::http::header<true, Fields>& req,
                                const forward_context& ctx);

enum class response_body_framing { none, as_received, add_chunked, remove_chunked };

struct response_context {
  unsigned version = 11;  // the client's version: the status line answers in it
  bool keep_alive = true;
  bool upgrade = false;  // a 101 to an upgrade request: keep Connection: upgrade + Upgrade
  response_body_framing framing = response_body_framing::as_received;
};

// Status line and fields for the client: hop-by-hop fields removed, Via appended to,
// Connection set for the keep-alive decision, Transfer-Encoding adjusted to the framing.
template <class Fields>
void serialize_downstream_response(std::string& out,
                                   const boost::beast::http::header<false, Fields>& res,
                                   const response_context& ctx);

// True when the request asks to switch protocols: "Connection: upgrade" plus an Upgrade header,
// except to h2c (never tunnelled: such a request goes on without its Upgrade).
template <class Fields>
bool wants_upgrade(const Fields& f);

// An X-Request-Id from a client is kept when it is 1..128 visible ASCII characters.
bool valid_request_id(std::string_view id) noexcept;

}  // namespace tally::proxy
