// Checks on a parsed request header that Beast's parser does not make itself, so that a request
// two HTTP implementations could frame differently (request smuggling) never reaches a backend.
// Beast already rejects Content-Length together with Transfer-Encoding, differing Content-Length
// values, repeated Transfer-Encoding, invalid field names and values.
#pragma once

#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

namespace tally::proxy {

// Returns null when the request may be forwarded, else the reason to answer 400.
// `raw_header` is the header block exactly as received (request line to the empty line).
template <class Fields>
const char* find_request_problem(const boost::beast::http::header<true, Fields>& req,
                                 std::string_view raw_header) noexcept;

// True when the header block continues a field on the next line (obs-fold, RFC 9112 §5.2).
bool has_obs_fold(std::string_view raw_header) noexcept;

}  // namespace tally::proxy
