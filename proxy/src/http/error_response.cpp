#include "http/error_response.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace tally::proxy {

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

refusal client_body_refusal(const boost::system::error_code& ec) noexcept {
  namespace http = boost::beast::http;
  if (ec == http::error::body_limit)
    return {413, "the request body is larger than limits.max_body_bytes",
            access_termination::body_too_large};
  if (ec == boost::beast::error::timeout || ec == boost::asio::error::eof ||
      ec == boost::asio::error::connection_reset)
    return {400, {}, access_termination::client_closed};
  return {400, "malformed request body framing", access_termination::smuggling_rejected};
}

std::string make_error_response(unsigned status, std::string_view detail,
                                std::string_view request_id, bool keep_alive, bool head_request) {
  auto reason = reason_phrase(status);
  std::string body;
  body.reserve(64 + detail.size() + request_id.size());
  body.append(std::to_string(status)).append(" ").append(reason).append(": ").append(detail);
  if (!request_id.empty()) body.append(" (request id ").append(request_id).append(")");
  body.append("\n");

  std::string out;
  out.reserve(256 + body.size());
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason).append("\r\n");
  out.append("Content-Type: text/plain; charset=utf-8\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  if (!request_id.empty()) out.append("X-Request-Id: ").append(request_id).append("\r\n");
  if (status == 503) out.append("Retry-After: 1\r\n");
  if (!keep_alive) out.append("Connection: close\r\n");
  out.append("Via: 1.1 tally\r\n\r\n");
  if (!head_request) out.append(body);
  return out;
}

}  // namespace tally::proxy
