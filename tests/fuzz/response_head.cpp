// Fuzzes a backend's response head as the proxy handles it (upstream_exchange.cpp try_backend()
// and relay_response()): Beast's response parser over the connection's header_arena, interim
// 1xx responses skipped, the body framing chosen for the client, and the head written by
// serialize_downstream_response.
//
// What the request was — HTTP/1.0 or 1.1 client, HEAD or not, an upgrade asked or not, client
// keep-alive — is picked from the input's length, so the corpus stays plain HTTP.
//
// The head tally writes must parse back, by a strict parser, to the same status and to the
// framing the relay will use (chunked, Content-Length, or until close — and a body that ends at
// the close never comes with a keep-alive promise); it carries no hop-by-hop field, no field the
// backend's Connection named, and one Via.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_http.hpp"
#include "header_arena.hpp"
#include "header_rewrite.hpp"

using namespace tally::fuzz;
using tally::proxy::arena_allocator;
using tally::proxy::header_arena;
using tally::proxy::response_body_framing;
using tally::proxy::response_context;

namespace {

using proxy_allocator = arena_allocator<char>;
using response_parser = http::parser<false, http::buffer_body, proxy_allocator>;

constexpr std::size_t limit = 64 * 1024;  // try_backend(): header_limit and read_header limit
constexpr int max_interim = 10;           // upstream_exchange.cpp max_interim_responses

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const unsigned client_version = size % 2 ? 10 : 11;
  const bool head_request = (size / 2) % 2;
  const bool upgrade_requested = (size / 4) % 2;
  const bool client_keep_alive = (size / 8) % 2 == 0;

  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  header_arena arena;
  std::optional<response_parser> p;
  for (int interim = 0;; ++interim) {
    p.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(proxy_allocator(arena)));
    p->header_limit(limit);
    p->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (head_request) p->skip(true);
    std::size_t header_bytes = 0;
    // One piece (as the proxy usually gets a small head); read_head's note and request_head
    // cover heads that arrive in parts.
    if (read_head(*p, bytes, limit, {}, header_bytes) != head_status::ok) return 0;
    bytes.remove_prefix(header_bytes);
    const auto& r = p->get();
    auto code = r.result_int();
    // read_response_head(): a status HTTP does not define, two Transfer-Encoding fields, a 101
    // nobody asked for, or an interim response past the cap: tally answers 502 itself.
    if (code < 100 || code > 599 || r.count(http::field::transfer_encoding) > 1 ||
        p->chunked() != r.chunked())
      return 0;
    if (code == 101 && !upgrade_requested) return 0;
    if (code >= 100 && code < 200 && code != 101) {
      if (interim >= max_interim) return 0;
      continue;  // interim: not forwarded
    }
    break;
  }
  auto& res = p->get();

  // relay_response()
  const bool upgraded = upgrade_requested && res.result_int() == 101;
  const unsigned version = client_version >= 11 ? 11u : 10u;
  response_context out{version, client_keep_alive && !upgraded, false,
                       response_body_framing::as_received};
  if (upgraded) {
    out = response_context{version, false, true, response_body_framing::none};
  } else if (!p->is_done() && !res.has_content_length() && !res.chunked()) {
    if (client_version >= 11)
      out.framing = response_body_framing::add_chunked;
    else
      out.keep_alive = false;
  } else if (res.chunked() && client_version < 11) {
    out.framing = response_body_framing::remove_chunked;
    out.keep_alive = false;
  }
  std::string head;
  tally::proxy::serialize_downstream_response(head, res, out);

  // Fixed findings (regressions/response_head/): a status below 100 was written unpadded, and
  // with two Transfer-Encoding fields the parser and the message disagreed on chunked.
  require(res.result_int() >= 100 && res.result_int() <= 599, "a status outside 100-599", head);
  require(p->chunked() == res.chunked(), "the parser and the message disagree on chunked", head);

  // What the client reads.
  http::response_parser<http::empty_body> client;
  client.header_limit(static_cast<std::uint32_t>(head.size() + 1));
  client.body_limit(boost::none);
  if (head_request) client.skip(true);
  error_code ec;
  auto used = client.put(net::buffer(head), ec);
  require(!ec && client.is_header_done(), "the client cannot parse the response head",
          ec.message() + "\n--- backend sent:\n" +
              std::string(reinterpret_cast<const char*>(data), size) + "\n--- tally wrote:\n" +
              head);
  require(used == head.size(), "the response head has bytes after its end", head);
  const auto& got = client.get();
  require(got.version() == version, "wrong HTTP version for the client", head);
  require(got.result_int() == res.result_int(), "status changed", head);

  // How relay_response() writes the body (body_framing, from the message's fields), against what
  // the client will expect from the head.
  enum class wire { none, raw, chunked };
  wire body = p->is_done() ? wire::none : res.chunked() ? wire::chunked : wire::raw;
  if (out.framing == response_body_framing::add_chunked) body = wire::chunked;
  if (out.framing == response_body_framing::remove_chunked) body = wire::raw;
  switch (body) {
    case wire::none:
      require(client.chunked() == p->chunked(), "chunked framing changed", head);
      require(client.content_length() == p->content_length(), "Content-Length changed", head);
      break;
    case wire::chunked:
      require(client.chunked() && !client.content_length(), "a chunked body not announced", head);
      break;
    case wire::raw:
      require(!client.chunked() && client.content_length() == p->content_length(),
              "a raw body announced as something else", head);
      break;
  }
  if (!upgraded && !client.is_done() && client.need_eof())
    require(!got.keep_alive(), "a body that ends at the close is sent with keep-alive", head);
  require(got.count(http::field::via) == 1, "not exactly one Via", head);

  for (const auto& field : got) {
    auto name = field.name_string();
    if (is_one_of(name, {"keep-alive", "proxy-connection", "te", "trailer"}))
      violated("a hop-by-hop field was sent to the client", head);
    if (!upgraded && is_one_of(name, {"upgrade"}))
      violated("Upgrade sent to the client without an upgrade", head);
    if (is_one_of(name, {"content-length", "transfer-encoding", "host", "connection", "via"}))
      continue;
    if (connection_names(res, name))
      violated("a field named in the backend's Connection header was sent to the client", head);
  }
  return 0;
}
