// The responses tally writes itself (400, 404, 408, 413, 431, 502, 503, 504): a short text body
// that names the request id, so an operator can find the request in the access log.
#pragma once

#include <string>
#include <string_view>

namespace tally::proxy {

// Complete HTTP/1.1 response bytes. `keep_alive` false adds "Connection: close".
std::string make_error_response(unsigned status, std::string_view detail,
                                std::string_view request_id, bool keep_alive);

std::string_view reason_phrase(unsigned status) noexcept;

}  // namespace tally::proxy
