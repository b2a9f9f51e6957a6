#include "http/request_checks.hpp"

#include "http/field_scan.hpp"
#include "http/header_arena.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace tally::proxy {

namespace http = boost::beast::http;

bool has_obs_fold(std::string_view raw) noexcept {
  for (std::size_t pos = raw.find('\n'); pos != std::string_view::npos && pos + 1 < raw.size();
       pos = raw.find('\n', pos + 1)) {
    char next = raw[pos + 1];
    if (next == ' ' || next == '\t') return true;
  }
  return false;
}

namespace {

// RFC 9112 §6.3: chunked must be the final transfer coding, and only once.
bool transfer_encoding_ok(std::string_view te) {
  http::token_list codings{te};
  auto it = codings.begin();
  if (it == codings.end()) return false;
  bool last_is_chunked = false;
  for (; it != codings.end(); ++it) {
    if (last_is_chunked) return false;  // something after chunked
    last_is_chunked = boost::beast::iequals(*it, "chunked");
  }
  return last_is_chunked;
}

}  // namespace

template <class Fields>
const char* find_request_problem(const http::header<true, Fields>& req,
                                 std::string_view raw_header) noexcept {
  if (has_obs_fold(raw_header)) return "obsolete line folding in a header field";
  auto te = field_scan::find(req, http::field::transfer_encoding);
  if (te != req.end()) {
    if (req.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    if (!transfer_encoding_ok(te->value())) return "Transfer-Encoding must end with chunked";
  }
  auto hosts = field_scan::count(req, http::field::host);
  if (hosts > 1) return "more than one Host header";
  if (hosts == 0 && req.version() >= 11) return "HTTP/1.1 request without a Host header";
  if (hosts == 1) {
    auto host = field_scan::value(req, http::field::host);
    for (char c : host)
      if (c == ' ' || c == '\t' || c == '/' || c == '@' || c == '\\') return "invalid Host header";
  }
  auto target = req.target();
  if (target.empty()) return "empty request target";
  return nullptr;
}

using arena_fields = http::basic_fields<arena_allocator<char>>;
template const char* find_request_problem(const http::header<true, http::fields>&,
                                          std::string_view) noexcept;
template const char* find_request_problem(const http::header<true, arena_fields>&,
                                          std::string_view) noexcept;

}  // namespace tally::proxy
