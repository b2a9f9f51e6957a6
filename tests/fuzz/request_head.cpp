// Fuzzes a client's request head as the proxy handles it (downstream_session.cpp run() and
// serve(), upstream_exchange.cpp try_backend()): Beast's request parser over the connection's
// header_arena, the smuggling checks, then the head tally sends the backend.
//
// Beyond "no crash, no sanitizer report", each accepted request must give a backend head that
//  - a strict parser (Beast, default allocator) reads back completely, with nothing after it;
//  - frames the body exactly as the client framed it (chunked, Content-Length, or none), so
//    tally and the backend agree where this request ends (request smuggling);
//  - passes the same smuggling checks, keeps the method, target and Host;
//  - carries no hop-by-hop field and no field the client's Connection header named;
//  - carries one X-Forwarded-For with every previous hop and the client, and one X-Request-Id.
// The bytes arrive in three pieces as well as in one, and both must give the same head.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_http.hpp"
#include "header_arena.hpp"
#include "header_rewrite.hpp"
#include "request_checks.hpp"
#include "request_target.hpp"

using namespace tally::fuzz;
using tally::proxy::arena_allocator;
using tally::proxy::header_arena;

namespace {

// As in proxy/src/net_types.hpp.
using proxy_allocator = arena_allocator<char>;
using request_parser = http::parser<true, http::buffer_body, proxy_allocator>;

constexpr std::size_t max_header_bytes = 16 * 1024;             // config default (limits)
constexpr std::uint64_t max_body_bytes = 100ull * 1024 * 1024;  // config default (limits)
constexpr std::string_view client_ip = "192.0.2.7";
constexpr std::string_view generated_id = "0123456789abcdef0123456789abcdef";

struct outcome {
  head_status status = head_status::incomplete;
  std::size_t header_bytes = 0;
  const char* problem = nullptr;
  std::string upstream_head;
};

outcome handle(std::string_view bytes, std::initializer_list<std::size_t> cuts, bool check) {
  outcome out;
  header_arena arena;
  request_parser p(std::piecewise_construct, std::make_tuple(),
                   std::make_tuple(proxy_allocator(arena)));
  p.header_limit(static_cast<std::uint32_t>(max_header_bytes));
  p.body_limit(max_body_bytes);
  out.status = read_head(p, bytes, max_header_bytes, cuts, out.header_bytes);
  if (out.status != head_status::ok) return out;
  require(out.header_bytes <= bytes.size(), "header longer than the input");

  const std::string_view raw = bytes.substr(0, out.header_bytes);
  auto& req = p.get();
  out.problem = tally::proxy::find_request_problem(req.base(), raw);
  if (out.problem) return out;

  // serve(): request id, route path, upgrade, Expect.
  std::string_view request_id = generated_id;
  if (auto it = req.find("X-Request-Id");
      it != req.end() && tally::proxy::valid_request_id(it->value()))
    request_id = it->value();
  std::string_view host = req[http::field::host];
  std::string_view path;
  if (!tally::proxy::request_path(req.target(), host, path)) return out;  // 400
  std::string storage;
  std::string_view normal;
  if (!tally::proxy::normalize_path(path, storage, normal)) return out;  // 400: above the root
  if (!path.empty() && path.front() == '/') {
    require(!normal.empty() && normal.front() == '/', "a normalised path lost its leading /",
            std::string(path));
    require(normal.find("//") == std::string_view::npos, "a normalised path keeps //",
            std::string(path));
    std::string again_storage;
    std::string_view again;
    require(tally::proxy::normalize_path(normal, again_storage, again) && again == normal,
            "normalize_path is not idempotent", std::string(path) + " -> " + std::string(normal));
  }
  const bool upgrade = tally::proxy::wants_upgrade(req.base());
  if (!p.is_done()) req.erase(http::field::expect);

  // try_backend(): the head for the backend.
  tally::proxy::serialize_upstream_request(
      out.upstream_head, req,
      tally::proxy::forward_context{client_ip, request_id, req.version(), upgrade});
  if (!check) return out;

  const std::string& head = out.upstream_head;
  http::request_parser<http::empty_body> back;
  back.header_limit(static_cast<std::uint32_t>(head.size() + 1));
  back.body_limit(boost::none);
  error_code ec;
  auto used = back.put(net::buffer(head), ec);
  require(!ec && back.is_header_done(), "the backend cannot parse the forwarded head",
          ec.message() + "\n--- forwarded:\n" + head);
  require(used == head.size(), "the forwarded head has bytes after its end", head);
  const auto& fwd = back.get();

  require(fwd.version() == 11, "forwarded head is not HTTP/1.1", head);
  require(fwd.method_string() == req.method_string(), "method changed", head);
  require(fwd.target() == req.target(), "target changed", head);
  require(back.chunked() == p.chunked(), "chunked framing changed", head);
  require(back.content_length() == p.content_length(), "Content-Length framing changed", head);
  require(fwd.count(http::field::host) == req.count(http::field::host), "Host count changed", head);
  require(fwd[http::field::host] == req[http::field::host], "Host changed", head);
  // An HTTP/1.0 request may come without Host; it goes on as HTTP/1.1 without one (see report).
  if (const char* again = tally::proxy::find_request_problem(fwd.base(), head);
      again && !(req.version() < 11 && req.count(http::field::host) == 0))
    violated("the forwarded head fails the smuggling checks", std::string(again) + "\n" + head);

  std::string forwarded_for;
  for (const auto& field : req)
    if (beast::iequals(field.name_string(), "x-forwarded-for"))
      forwarded_for.append(field.value()).append(", ");
  forwarded_for.append(client_ip);
  require(fwd.count("X-Forwarded-For") == 1, "not exactly one X-Forwarded-For", head);
  require(fwd["X-Forwarded-For"] == forwarded_for, "X-Forwarded-For lost a previous hop", head);
  require(fwd.count("X-Request-Id") == 1 && fwd["X-Request-Id"] == request_id,
          "X-Request-Id is not the one chosen", head);

  for (const auto& field : fwd) {
    auto name = field.name_string();
    if (is_one_of(name, {"keep-alive", "proxy-connection", "te", "trailer"}))
      violated("a hop-by-hop field was forwarded", head);
    if (!upgrade && is_one_of(name, {"connection", "upgrade"}))
      violated("Connection/Upgrade forwarded without an upgrade", head);
    if (is_one_of(name,
                  {"content-length", "transfer-encoding", "host", "connection", "x-forwarded-for",
                   "x-forwarded-proto", "x-forwarded-host", "via", "x-request-id"}))
      continue;  // never removed by Connection, or written by tally itself
    if (connection_names(req, name))
      violated("a field named in the client's Connection header was forwarded", head);
  }
  return out;
}

std::string describe(const outcome& o) {
  static constexpr const char* names[] = {"ok", "too_large", "body_too_large", "malformed",
                                          "incomplete"};
  return std::string("status ") + names[static_cast<int>(o.status)] + ", header " +
         std::to_string(o.header_bytes) + " bytes, problem: " + (o.problem ? o.problem : "none") +
         "\n" + o.upstream_head;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto whole = handle(bytes, {}, true);
  // The same bytes in three TCP segments: read_header re-parses the growing buffer.
  auto pieces = handle(bytes, {size / 3, size / 3 + 1 + size / 5}, false);
  // Refusals may differ (Beast finds a bad line ending at once, or waits for the end of a header
  // that never comes); what is accepted, and how, must not.
  const bool refused = whole.status != head_status::ok && pieces.status != head_status::ok;
  if (refused) return 0;
  if (whole.status == pieces.status && whole.header_bytes == pieces.header_bytes &&
      whole.problem == pieces.problem && whole.upstream_head == pieces.upstream_head)
    return 0;
  const std::string both = "in one piece: " + describe(whole) + "\nin three: " + describe(pieces);
  violated("parsing depends on how the bytes arrived", both);
  return 0;
}
