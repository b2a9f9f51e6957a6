// What the HTTP harnesses share: feeding bytes to a parser the way proxy/src/http_io.hpp's
// read_header does, re-parsing what tally writes, and failing loudly on a broken invariant.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

namespace tally::fuzz {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;

// A broken invariant is a crash: libFuzzer saves the input and exits non-zero.
[[noreturn]] inline void violated(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "\ninvariant violated: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}
inline void require(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) violated(what, detail);
}

// http_io.hpp's header_read, plus `incomplete`: every byte arrived and the header did not end
// (the proxy would wait for more and time out, or see the close).
enum class head_status { ok, too_large, body_too_large, malformed, incomplete };

// read_header: the bytes arrive in pieces (ends at `cuts`, then the rest); after each piece the
// parser is given the buffered bytes it has not used yet, which stay buffered until the header
// is done. Beast 1.81 takes the start line as soon as it is complete (need_more with bytes used),
// so what it used is never fed again (the fixed finding regressions/request_head/
// split_after_request_line.http).
template <class Parser>
head_status read_head(Parser& p, std::string_view bytes, std::size_t limit,
                      std::initializer_list<std::size_t> cuts, std::size_t& header_bytes) {
  std::size_t parsed = 0;
  auto feed = [&](std::size_t buffered) -> std::optional<head_status> {
    if (buffered <= parsed) return std::nullopt;
    error_code ec;
    parsed += p.put(net::const_buffer(bytes.data() + parsed, buffered - parsed), ec);
    if (!ec && p.is_header_done()) {
      header_bytes = parsed;
      return head_status::ok;
    }
    if (ec == http::error::header_limit) return head_status::too_large;
    if (ec == http::error::body_limit) return head_status::body_too_large;
    if (ec && ec != http::error::need_more) return head_status::malformed;
    if (buffered > limit) return head_status::too_large;
    return std::nullopt;
  };
  std::size_t previous = 0;
  for (std::size_t cut : cuts) {
    if (cut <= previous || cut >= bytes.size()) continue;
    previous = cut;
    if (auto s = feed(cut)) return *s;
  }
  if (auto s = feed(bytes.size())) return *s;
  return head_status::incomplete;
}

// A finding already reported, with its reproducer in tests/fuzz/regressions/: fatal only with
// TALLY_FUZZ_STRICT=1 (scripts/fuzz.sh regress), so that fuzzing goes on looking for new ones.
// Remove the call (make it a require) once the product is fixed.
inline void known_finding(bool ok, const char* what, std::string_view detail = {}) {
  static const bool strict = [] {
    const char* v = std::getenv("TALLY_FUZZ_STRICT");
    return v && *v && *v != '0';
  }();
  if (!ok && strict) violated(what, detail);
}

inline bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (beast::iequals(name, n)) return true;
  return false;
}

// The tokens of every Connection field except the three that are options, not field names.
template <class Fields>
bool connection_names(const Fields& f, std::string_view name) {
  for (const auto& field : f) {
    if (field.name() != http::field::connection) continue;
    for (auto token : http::token_list{field.value()})
      if (!is_one_of(token, {"close", "keep-alive", "upgrade"}) && beast::iequals(token, name))
        return true;
  }
  return false;
}

}  // namespace tally::fuzz
