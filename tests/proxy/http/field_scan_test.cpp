// field_scan answers as Beast's basic_fields and message do, on parsed header blocks.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <boost/beast/http.hpp>

#include "http/field_scan.hpp"

namespace http = boost::beast::http;
namespace field_scan = tally::proxy::field_scan;

namespace {

// A header block parsed by Beast, whole.
template <bool isRequest>
struct parsed_head {
  explicit parsed_head(const std::string& raw) {
    p.eager(false);
    boost::system::error_code ec;
    p.put(boost::asio::buffer(raw), ec);
    REQUIRE_FALSE(ec);
    REQUIRE(p.is_header_done());
  }
  http::parser<isRequest, http::empty_body> p;
};

template <bool isRequest>
void check_same_answers(const std::string& raw) {
  CAPTURE(raw);
  parsed_head<isRequest> head(raw);
  const auto& p = head.p;
  const auto& m = p.get();
  for (auto id : {http::field::host, http::field::connection, http::field::transfer_encoding,
                  http::field::content_length, http::field::expect, http::field::via}) {
    CAPTURE(http::to_string(id));
    CHECK(field_scan::find(m, id) == m.find(id));
    CHECK(field_scan::value(m, id) == m[id]);
    CHECK(field_scan::count(m, id) == m.count(id));
  }
  CHECK(field_scan::find_unknown(m, "X-Request-Id") == m.find("X-Request-Id"));
  // The parser's keep_alive() reads every Connection field (message::keep_alive() only the
  // first); it also says no to a body that ends at EOF, which is not field_scan's question.
  if (!p.need_eof()) CHECK(field_scan::keep_alive(m.base()) == p.keep_alive());
  CHECK(field_scan::chunked(m) == m.chunked());
}

template <bool isRequest>
bool keep_alive_of(const std::string& raw) {
  CAPTURE(raw);
  return field_scan::keep_alive(parsed_head<isRequest>(raw).p.get().base());
}

}  // namespace

TEST_CASE("field_scan: requests") {
  const std::vector<std::string> heads = {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: a\r\nX-Request-Id: 1\r\nx-request-id: 2\r\n\r\n",
      "GET / HTTP/1.1\r\nConnection: foo\r\nHost: a\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nConnection: Close\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
      "GET / HTTP/1.1\r\nVia: 1.0 x\r\nHost: a\r\nB: 1\r\nVia: 1.1 y\r\nHost: b\r\n\r\n",
  };
  for (const auto& h : heads)
    check_same_answers<true>(h);
}

TEST_CASE("field_scan: responses") {
  const std::vector<std::string> heads = {
      "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
  };
  for (const auto& h : heads)
    check_same_answers<false>(h);
}

TEST_CASE("field_scan: every Connection field counts, as one comma-separated list would") {
  // RFC 9110 5.3: field lines of one name are one list. A close in any of them closes: a
  // backend that says so in its second Connection field must not get another request on it.
  CHECK_FALSE(
      keep_alive_of<false>("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: "
                           "0\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(keep_alive_of<true>(
      "GET / HTTP/1.1\r\nConnection: foo\r\nHost: a\r\nConnection: close\r\n\r\n"));
  CHECK(keep_alive_of<true>("GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n"));
  CHECK_FALSE(
      keep_alive_of<true>("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"));
  CHECK(keep_alive_of<true>("GET / HTTP/1.1\r\nConnection: foo\r\nConnection: bar\r\n\r\n"));
}
