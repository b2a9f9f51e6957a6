#include <doctest/doctest.h>

#include <boost/beast/http.hpp>

#include "http/request_checks.hpp"

namespace http = boost::beast::http;
using tally::proxy::find_request_problem;
using tally::proxy::has_obs_fold;

namespace {

// Parses a header block with Beast as the proxy does; returns "parser: <message>" when Beast
// rejects it, the problem tally finds, or "" when the request may go on.
std::string verdict(const std::string& raw) {
  http::request_parser<http::buffer_body> p;
  boost::system::error_code ec;
  auto used = p.put(boost::asio::buffer(raw), ec);
  if (ec) return "parser: " + ec.message();
  REQUIRE(p.is_header_done());
  const char* problem = find_request_problem(p.get().base(), std::string_view(raw).substr(0, used));
  return problem ? problem : "";
}

}  // namespace

TEST_CASE("obs-fold is found in raw header blocks") {
  CHECK(has_obs_fold("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"));
  CHECK(has_obs_fold("GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n"));
  CHECK_FALSE(has_obs_fold("GET / HTTP/1.1\r\nA: b c\r\nB: d\r\n\r\n"));
}

TEST_CASE("ordinary requests pass") {
  CHECK(verdict("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == "");
  CHECK(verdict("GET / HTTP/1.0\r\n\r\n") == "");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n") == "");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") ==
        "");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") == "");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == "");
}

TEST_CASE("each smuggling shape is refused - by Beast or by tally") {
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
                "chunked\r\n\r\n") != "");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                "5\r\n\r\n") != "");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") !=
        "");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") ==
        "Transfer-Encoding must end with chunked");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") ==
        "Transfer-Encoding must end with chunked");
  CHECK(verdict("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n") ==
        "Transfer-Encoding must end with chunked");
  CHECK(verdict("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        "Transfer-Encoding in an HTTP/1.0 request");
  CHECK(verdict("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n") ==
        "obsolete line folding in a header field");
  CHECK(verdict("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == "more than one Host header");
  CHECK(verdict("GET / HTTP/1.1\r\n\r\n") == "HTTP/1.1 request without a Host header");
  CHECK(verdict("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == "invalid Host header");
}
