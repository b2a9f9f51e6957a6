// Fuzzes request body framing as the proxy streams it: the request parser over the connection's
// header_arena reads the body through buffer_body into a small relay buffer, piece by piece, as
// http_io.hpp's read_body_piece does (eager, need_buffer, bytes arriving in TCP segments), and
// relay_body/write_piece re-frame each piece for the backend (raw, or one chunk per piece).
// Several requests may be pipelined on one connection; each gets a fresh parser over the same
// arena, as downstream_session.cpp's run() does.
//
// Invariants, per request:
//  - the body streamed piece by piece equals what a one-shot parse (string_body) of the same
//    bytes gives, and both agree on success or failure: framing does not depend on buffer or
//    segment sizes;
//  - what the backend receives (forwarded head + re-framed body) parses, by a strict parser, to
//    the same body and ends exactly where it should: nothing left over to be read as a second
//    request (smuggling).
// The relay buffer and TCP segment sizes are picked from the input's length, so mutations vary
// them while the corpus stays plain HTTP.
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_http.hpp"
#include "header_arena.hpp"
#include "header_rewrite.hpp"
#include "request_checks.hpp"

using namespace tally::fuzz;
using tally::proxy::arena_allocator;
using tally::proxy::header_arena;

namespace {

using proxy_allocator = arena_allocator<char>;
using request_parser = http::parser<true, http::buffer_body, proxy_allocator>;

constexpr std::size_t max_header_bytes = 16 * 1024;
constexpr std::uint64_t max_body_bytes = 1024 * 1024;  // small enough to be reached
constexpr std::size_t max_requests = 4;

// A socket whose reads return at most `segment` bytes of the input.
struct fake_connection {
  std::string_view unread;
  std::size_t segment;
  std::string buffer;  // read, not yet consumed (connection_io::buffer)

  bool read_some() {
    if (unread.empty()) return false;  // EOF
    auto n = std::min(segment, unread.size());
    buffer.append(unread.substr(0, n));
    unread.remove_prefix(n);
    return true;
  }
  void consume(std::size_t n) { buffer.erase(0, n); }
};

enum class piece_status { ok, done_eof, failed, incomplete };

// read_body_piece(): fills `relay` (capacity `cap`) with body bytes; returns how many.
piece_status read_body_piece(fake_connection& io, request_parser& p, char* relay, std::size_t cap,
                             std::size_t& got, error_code& failure) {
  auto& body = p.get().body();
  body.data = relay;
  body.size = cap;
  p.eager(true);
  for (;;) {
    if (!io.buffer.empty()) {
      error_code ec;
      auto used = p.put(net::buffer(io.buffer), ec);
      require(used <= io.buffer.size(), "parser used more than it was given");
      io.consume(used);
      if (ec && ec != http::error::need_more && ec != http::error::need_buffer) {
        failure = ec;
        return piece_status::failed;
      }
    }
    got = cap - body.size;
    if (got > 0 || p.is_done()) return piece_status::ok;
    if (!io.read_some()) {
      if (p.need_eof()) {
        error_code ec;
        p.put_eof(ec);
        got = cap - body.size;
        failure = ec;
        return ec ? piece_status::failed : piece_status::done_eof;
      }
      return piece_status::incomplete;  // the client stopped sending: idle timeout
    }
  }
}

// write_piece()'s framing.
void frame(std::string& out, bool chunked, std::string_view data, bool last) {
  if (chunked) {
    if (!data.empty()) {
      char size[20];
      auto end = std::to_chars(size, size + 16, data.size(), 16).ptr;
      out.append(size, end).append("\r\n").append(data).append("\r\n");
    }
    if (last) out.append("0\r\n\r\n");
  } else {
    out.append(data);
  }
}

// The same bytes parsed in one go by a parser with the default allocator.
struct reference_result {
  bool header_ok = false;
  bool done = false;
  error_code ec;
  std::string body;
  std::size_t used = 0;
};

reference_result parse_at_once(std::string_view bytes) {
  reference_result r;
  http::request_parser<http::string_body> p;
  p.header_limit(static_cast<std::uint32_t>(max_header_bytes));
  p.body_limit(max_body_bytes);
  p.eager(true);
  r.used = p.put(net::buffer(bytes.data(), bytes.size()), r.ec);
  if (r.ec == http::error::need_more) r.ec = {};
  r.header_ok = p.is_header_done();
  if (!r.ec && p.is_header_done() && !p.is_done() && p.need_eof() && r.used == bytes.size())
    p.put_eof(r.ec);
  r.done = !r.ec && p.is_done();
  r.body = p.get().body();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr std::size_t relay_sizes[] = {1, 3, 16, 64 * 1024};
  static constexpr std::size_t segment_sizes[] = {1, 7, 64, 64 * 1024};
  const std::size_t cap = relay_sizes[size % 4];
  const std::size_t segment = segment_sizes[(size / 4) % 4];
  // Exactly `cap` bytes, so a write past the relay buffer is an ASan report.
  auto relay_storage = std::make_unique<char[]>(cap);
  char* relay = relay_storage.get();

  std::string_view input(reinterpret_cast<const char*>(data), size);
  fake_connection io{input, segment, {}};
  header_arena arena;  // one per connection

  for (std::size_t n = 0; n < max_requests; ++n) {
    // What is left for this request, for the one-shot reference parse.
    const std::string rest = io.buffer + std::string(io.unread);
    if (rest.empty()) return 0;

    request_parser p(std::piecewise_construct, std::make_tuple(),
                     std::make_tuple(proxy_allocator(arena)));
    p.header_limit(static_cast<std::uint32_t>(max_header_bytes));
    p.body_limit(max_body_bytes);
    // read_header(). The whole header is read before parsing: parsing a partial one hits the
    // start-line finding of fuzz_http.hpp read_head (request_head covers it); this harness is
    // about bodies.
    std::size_t header_bytes = 0;
    while (io.buffer.find("\r\n\r\n") == std::string::npos &&
           io.buffer.size() <= max_header_bytes && io.read_some()) {
    }
    if (io.buffer.empty()) return 0;
    head_status status = read_head(p, io.buffer, max_header_bytes, {}, header_bytes);
    if (status != head_status::ok) return 0;
    const char* problem =
        tally::proxy::find_request_problem(p.get().base(), {io.buffer.data(), header_bytes});
    io.consume(header_bytes);
    if (problem) return 0;

    const auto reference = parse_at_once(rest);
    require(reference.header_ok, "one-shot parse rejects a header read in pieces");

    // serve() reads the first piece before choosing a backend; relay_body() the rest.
    std::string streamed;
    std::string upstream;
    tally::proxy::serialize_upstream_request(
        upstream, p.get(), tally::proxy::forward_context{"192.0.2.7", "fuzz", 11, false});
    const std::size_t head_size = upstream.size();
    bool first = true;
    bool chunked = false;
    bool ended = false;
    error_code failure;
    piece_status s = piece_status::ok;
    if (p.is_done()) ended = true;  // no body
    while (!ended) {
      std::size_t got = 0;
      s = read_body_piece(io, p, relay, cap, got, failure);
      if (s == piece_status::failed || s == piece_status::incomplete) break;
      if (first) {
        first = false;
        chunked = p.get().chunked();  // try_backend() asks the message, not the parser
        require(chunked == p.chunked(), "the parser and the message disagree on chunked");
      }
      streamed.append(relay, got);
      ended = p.is_done() || s == piece_status::done_eof;
      frame(upstream, chunked, {relay, got}, ended);
      if (!ended && got == 0) violated("read_body_piece returned nothing before the end");
    }

    if (s == piece_status::failed) {
      require(!reference.done, "the body fails in pieces but parses in one go", failure.message());
      return 0;
    }
    if (!ended) {  // ran out of input mid-body: both must still be waiting
      require(!reference.done, "the body is complete in one go but not in pieces");
      return 0;
    }
    require(reference.done, "the body is complete in pieces but not in one go",
            reference.ec.message());
    require(streamed == reference.body, "the streamed body differs from the one-shot body");

    // What the backend reads: the forwarded head and the re-framed body, and nothing more.
    http::request_parser<http::string_body> backend;
    backend.body_limit(boost::none);
    backend.header_limit(static_cast<std::uint32_t>(head_size + 1));
    backend.eager(true);
    error_code ec;
    auto used = backend.put(net::buffer(upstream), ec);
    require(!ec && backend.is_done(), "the backend cannot parse what tally forwarded",
            ec.message() + "\n" + upstream);
    require(used == upstream.size(), "bytes left over after the forwarded request", upstream);
    require(backend.get().body() == streamed, "the backend reads another body");
    if (!p.keep_alive()) return 0;
  }
  return 0;
}
