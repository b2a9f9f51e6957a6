// Field lookups for the request path by a scan of the message's fields in order, instead of
// Beast's basic_fields::find. Beast turns a field's enum back into its name and walks its
// red-black tree with case-insensitive string comparisons: ~250 instructions a lookup under
// callgrind, and a request made a dozen (Host, Transfer-Encoding, Connection, X-Request-Id,
// chunked() and keep_alive() on both messages). Comparing the few fields of a message by enum
// costs a few instructions each.
//
// The answers are Beast's: find() gives the first field of the name, as basic_fields::find
// does (Beast keeps same-named fields together in arrival order); chunked() follows
// message::chunked() rule for rule, keep_alive() reads every Connection field (see there).
#pragma once

#include <cstddef>
#include <iterator>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace tally::proxy::field_scan {

namespace http = boost::beast::http;

// The first field `id` (not field::unknown), or f.end().
template <class Fields>
typename Fields::const_iterator find(const Fields& f, http::field id) {
  auto it = f.begin();
  while (it != f.end() && it->name() != id)
    ++it;
  return it;
}

// The first field named `name`, which must be a name Beast does not know (field::unknown).
template <class Fields>
typename Fields::const_iterator find_unknown(const Fields& f, std::string_view name) {
  auto it = f.begin();
  while (it != f.end() &&
         !(it->name() == http::field::unknown && boost::beast::iequals(it->name_string(), name)))
    ++it;
  return it;
}

// The value of the first field `id`, or empty (basic_fields::operator[]).
template <class Fields>
std::string_view value(const Fields& f, http::field id) {
  auto it = find(f, id);
  return it == f.end() ? std::string_view{} : std::string_view(it->value());
}

template <class Fields>
std::size_t count(const Fields& f, http::field id) {
  std::size_t n = 0;
  for (const auto& field : f)
    n += field.name() == id;
  return n;
}

// Whether the connection persists after this message (RFC 9112 9.3): not when any Connection
// field has "close"; HTTP/1.0 only when one has "keep-alive". Every Connection field counts, as
// the one list they are (RFC 9110 5.3) — message::keep_alive() reads only the first, so a
// backend's close in a second field went unheeded and its connection was reused.
template <bool isRequest, class Fields>
bool keep_alive(const http::header<isRequest, Fields>& h) {
  bool close = false;
  bool keep = false;
  for (const auto& field : h) {
    if (field.name() != http::field::connection) continue;
    http::token_list tokens{field.value()};  // exists() is not const
    close = close || tokens.exists("close");
    keep = keep || tokens.exists("keep-alive");
  }
  return !close && (h.version() >= 11 || keep);
}

// message::chunked(): the last coding of the first Transfer-Encoding field is chunked.
template <class Fields>
bool chunked(const Fields& f) {
  const http::token_list te{value(f, http::field::transfer_encoding)};
  for (auto it = te.begin(); it != te.end();) {
    auto next = std::next(it);
    if (next == te.end()) return boost::beast::iequals(*it, "chunked");
    it = next;
  }
  return false;
}

}  // namespace tally::proxy::field_scan
