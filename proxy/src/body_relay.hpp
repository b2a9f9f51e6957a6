// Streams one message from a parser whose header is read to a serializer on another stream, a
// piece at a time through a relay_buffer (Beast's `relay` example, as a coroutine). Memory stays
// bounded whatever the body size; each piece is written as soon as it is read, so streaming
// responses (server-sent events, long polls) are not held back.
#pragma once

#include <chrono>

#include "net_types.hpp"
#include "relay_buffer.hpp"

namespace tally::proxy {

enum class relay_outcome { done, read_failed, write_failed };

struct relay_result {
  relay_outcome outcome = relay_outcome::done;
  error_code ec;
};

// Reads a body piece into `rb` (parsing bytes already in `buffer` first). Returns the number of
// body bytes now in `rb`; need_buffer (rb full) is not an error.
template <bool isRequest>
net::awaitable<std::pair<error_code, std::size_t>> read_body_piece(
    beast::tcp_stream& src, beast::flat_buffer& buffer,
    http::parser<isRequest, http::buffer_body>& p, relay_buffer& rb,
    std::chrono::milliseconds timeout) {
  auto& body = p.get().body();
  body.data = rb.data();
  body.size = relay_buffer::capacity;
  std::size_t got = 0;
  // Keep parsing while bytes already received remain and there is room: fewer, larger writes,
  // and a body that arrived whole is seen whole (a chunked body over the limit is refused
  // before anything is forwarded).
  while (!p.is_done() && body.size > 0 && (got == 0 || buffer.size() > 0)) {
    src.expires_after(timeout);
    auto [ec, n] = co_await http::async_read_some(src, buffer, p, use_tuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return std::pair{ec, std::size_t{0}};
    got = relay_buffer::capacity - body.size;
  }
  co_return std::pair{error_code{}, got};
}

// Writes the header and the `pending` bytes already in `rb`, then alternates read and write
// until the message is complete.
template <bool isRequest>
net::awaitable<relay_result> relay_body(beast::tcp_stream& src, beast::flat_buffer& src_buffer,
                                        http::parser<isRequest, http::buffer_body>& p,
                                        beast::tcp_stream& dst,
                                        http::serializer<isRequest, http::buffer_body>& sr,
                                        relay_buffer& rb, std::size_t pending,
                                        std::chrono::milliseconds timeout) {
  auto& body = p.get().body();
  for (;;) {
    body.data = pending ? rb.data() : nullptr;
    body.size = pending;
    body.more = !p.is_done();
    dst.expires_after(timeout);
    auto [wec, wn] = co_await http::async_write(dst, sr, use_tuple);
    if (wec == http::error::need_buffer) wec = {};
    if (wec) co_return relay_result{relay_outcome::write_failed, wec};
    if (sr.is_done()) co_return relay_result{};
    auto [rec, got] = co_await read_body_piece(src, src_buffer, p, rb, timeout);
    if (rec) co_return relay_result{relay_outcome::read_failed, rec};
    pending = got;
  }
}

}  // namespace tally::proxy
