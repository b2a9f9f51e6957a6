// Reading and writing HTTP/1.1 messages on a plain socket with a socket_deadline.
//
// Parsing uses Beast's parser on bytes already received (parser.put), so the common case — a
// header and a small body that arrived in one segment — is parsed without starting another
// asynchronous operation. Writing serializes the head into one reused string and the body
// framing (raw or chunked) by hand, so each piece leaves in a single writev.
#pragma once

#include <chrono>
#include <string>

#include "net_types.hpp"
#include "relay_buffer.hpp"
#include "socket_deadline.hpp"

namespace tally::proxy {

using std::chrono::milliseconds;

// One direction of a connection: the socket, its deadline and the bytes read but not parsed.
struct connection_io {
  explicit connection_io(tcp::socket s) : socket(std::move(s)), deadline(socket) {
    // Reads take at most the free capacity: room for large reads from the start.
    buffer.reserve(16 * 1024);
  }
  tcp::socket socket;
  socket_deadline deadline;
  beast::flat_buffer buffer;
  // Timeouts surface as operation_aborted from the socket; this makes them a timeout again.
  error_code classify(error_code ec) const {
    return ec && deadline.timed_out() ? error_code(beast::error::timeout) : ec;
  }
};

enum class header_read { ok, closed, timed_out, too_large, body_too_large, malformed };

// Reads until `p` has a complete header. The first byte must come within `first_byte`, the
// whole block within `whole` from the first byte (when bytes are already buffered, from now).
// `header_bytes` receives the size of the header block, still at the front of io.buffer.
template <class Parser>
net::awaitable<header_read> read_header(connection_io& io, Parser& p, std::size_t limit,
                                        milliseconds first_byte, milliseconds whole,
                                        std::size_t& header_bytes,
                                        const std::atomic<bool>* stop_if_idle = nullptr) {
  bool started = io.buffer.size() > 0;
  io.deadline.expires_after(started ? whole : first_byte);
  for (;;) {
    if (io.buffer.size() > 0) {
      if (!started) {
        started = true;
        io.deadline.expires_after(whole);
      }
      error_code ec;
      auto used = p.put(io.buffer.data(), ec);
      if (!ec && p.is_header_done()) {
        header_bytes = used;
        co_return header_read::ok;
      }
      if (ec == http::error::header_limit) co_return header_read::too_large;
      if (ec == http::error::body_limit) co_return header_read::body_too_large;
      if (ec && ec != http::error::need_more) co_return header_read::malformed;
      if (io.buffer.size() > limit) co_return header_read::too_large;
    }
    if (!started && stop_if_idle && stop_if_idle->load(std::memory_order_relaxed))
      co_return header_read::closed;
    auto [ec, n] = co_await io.socket.async_read_some(io.buffer.prepare(16 * 1024), use_tuple);
    if (ec) {
      // Nothing received yet: a quiet close (as nginx does); a partial header ran out of time.
      if (io.deadline.timed_out() && started) co_return header_read::timed_out;
      co_return started && !io.deadline.timed_out() ? header_read::malformed : header_read::closed;
    }
    io.buffer.commit(n);
  }
}

// Parses body bytes into `rb` — first those already buffered, reading from the socket only when
// none are. Returns the number of body bytes placed in `rb` (0 only when the message is done).
// need_buffer is not an error; the end of a close-delimited body is.
template <class Parser>
net::awaitable<std::pair<error_code, std::size_t>> read_body_piece(connection_io& io, Parser& p,
                                                                   relay_buffer& rb,
                                                                   milliseconds timeout) {
  auto& body = p.get().body();
  body.data = rb.data();
  body.size = relay_buffer::capacity;
  p.eager(true);
  for (;;) {
    if (io.buffer.size() > 0) {
      error_code ec;
      auto used = p.put(io.buffer.data(), ec);
      io.buffer.consume(used);
      if (ec && ec != http::error::need_more && ec != http::error::need_buffer)
        co_return std::pair{ec, std::size_t{0}};
    }
    std::size_t got = relay_buffer::capacity - body.size;
    if (got > 0 || p.is_done()) co_return std::pair{error_code{}, got};
    io.deadline.expires_after(timeout);
    auto [ec, n] = co_await io.socket.async_read_some(io.buffer.prepare(64 * 1024), use_tuple);
    if (ec == net::error::eof && p.need_eof()) {
      error_code eof_ec;
      p.put_eof(eof_ec);  // a close-delimited body ends here
      co_return std::pair{eof_ec, relay_buffer::capacity - body.size};
    }
    if (ec) co_return std::pair{io.classify(ec), std::size_t{0}};
    io.buffer.commit(n);
  }
}

// How a body is framed on the way out.
enum class body_framing { none, raw, chunked };

// Writes `head` (may be empty: already sent) and a body piece, framed. `last` ends the body
// (for chunked, the terminating zero-length chunk).
net::awaitable<error_code> write_piece(connection_io& io, std::string_view head,
                                       body_framing framing, const char* data, std::size_t size,
                                       bool last, milliseconds timeout);

// Streams the rest of a message whose head is serialized in `head`: writes head plus `pending`
// bytes already in `rb`, then alternates reading from `src` and writing to `dst`.
enum class relay_outcome { done, read_failed, write_failed };
struct relay_result {
  relay_outcome outcome = relay_outcome::done;
  error_code ec;
};

template <class Parser>
net::awaitable<relay_result> relay_body(connection_io& src, Parser& p, connection_io& dst,
                                        std::string_view head, body_framing framing,
                                        relay_buffer& rb, std::size_t pending, milliseconds timeout,
                                        std::uint64_t& body_bytes) {
  for (;;) {
    bool last = p.is_done();
    auto wec = co_await write_piece(dst, head, framing, pending ? rb.data() : nullptr, pending,
                                    last, timeout);
    if (wec) co_return relay_result{relay_outcome::write_failed, wec};
    body_bytes += pending;
    if (last) co_return relay_result{};
    head = {};
    auto [rec, got] = co_await read_body_piece(src, p, rb, timeout);
    if (rec) co_return relay_result{relay_outcome::read_failed, rec};
    pending = got;
  }
}

}  // namespace tally::proxy
