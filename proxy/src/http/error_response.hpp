// The responses tally writes itself (400, 404, 408, 413, 431, 502, 503, 504): a short text body
// that names the request id, so an operator can find the request in the access log.
#pragma once

#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "tally/proxy/access_log.hpp"

namespace tally::proxy {

// Complete HTTP/1.1 response bytes. `keep_alive` false adds "Connection: close". The answer to a
// HEAD request (`head_request`) has the same head and no body: the client reads none, and body
// bytes would be taken for the next response on the connection.
std::string make_error_response(unsigned status, std::string_view detail,
                                std::string_view request_id, bool keep_alive,
                                bool head_request = false);

std::string_view reason_phrase(unsigned status) noexcept;

// One of tally's own answers: a status, the text its body explains it with, and the access
// log's word for how the request ended.
struct refusal {
  unsigned status = 0;
  std::string_view detail;  // empty: no answer, the connection closes quietly
  access_termination termination = access_termination::bad_request;
};

// The answer when reading a request body fails, before or while it is sent upstream: 413 over
// limits.max_body_bytes, 400 for bad framing, and a quiet close (status 400 for the access
// log) when the client went quiet or away.
refusal client_body_refusal(const boost::system::error_code& ec) noexcept;

}  // namespace tally::proxy
