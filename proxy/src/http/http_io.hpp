// Reading and writing HTTP/1.1 messages on a socket with a deadline.
//
// Parsing uses Beast's parser on bytes already received (parser.put), so the common case — a
// header and a small body that arrived in one segment — is parsed without starting another
// asynchronous operation. Writing serializes the head into one reused string and the body
// framing (raw or chunked) by hand, so each piece leaves in a single writev.
//
// Everything here is generic over the stream (basic_connection_io<Stream>): the proxy runs it on
// TCP sockets, and the unit tests on Beast's in-memory test::stream, which delivers bytes in
// whatever pieces a test chooses.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/write.hpp>

#include "http/block_pool.hpp"
#include "http/net_types.hpp"
#include "http/proxy_stream.hpp"
#include "http/relay_buffer.hpp"
#include "http/socket_deadline.hpp"

namespace tally::proxy {

using std::chrono::milliseconds;

// Bytes read but not parsed. Its usual sizes (a 16 KiB read of a header, a 64 KiB read of a
// body) are block_pool blocks: shrink_to_fit() on an empty buffer gives the block back.
using read_buffer = beast::basic_flat_buffer<pooled_allocator<char>>;

// One side of a connection: the socket, its deadline and the bytes read but not parsed. The
// buffer is allocated by the first read.
template <class Stream>
struct basic_connection_io {
  using executor_type = typename Stream::executor_type;
  explicit basic_connection_io(Stream s) : socket(std::move(s)), deadline(socket) {}
  Stream socket;
  basic_socket_deadline<Stream> deadline;
  read_buffer buffer;
  // Timeouts surface as operation_aborted from the socket; this makes them a timeout again.
  error_code classify(error_code ec) const {
    return ec && deadline.timed_out() ? error_code(beast::error::timeout) : ec;
  }
};
using connection_io = basic_connection_io<proxy_stream>;

// The coroutine type and completion token of operations on an `Io`: awaitable<T> and
// use_worker_tuple on the proxy's sockets, net::awaitable<T> and use_tuple on test streams.
template <class Io, class T>
using io_awaitable = net::awaitable<T, typename Io::executor_type>;
template <class Io>
inline constexpr auto io_tuple = net::as_tuple(net::use_awaitable_t<typename Io::executor_type>{});

enum class header_read { ok, closed, timed_out, too_large, body_too_large, malformed };

// How long and how much read_header waits for.
struct header_wait {
  std::size_t limit = 0;       // bytes of header block
  milliseconds first_byte{0};  // for the first byte
  milliseconds whole{0};  // for the whole block, from the first byte (or from now, when buffered)
  const std::atomic<bool>* stop_if_idle = nullptr;  // set: give up before the first byte
  // An overall bound on top of the two above (several heads share one deadline).
  std::chrono::steady_clock::time_point not_after = std::chrono::steady_clock::time_point::max();
  // The socket was just seen readable: the first read is tried at once, without the reactor.
  bool readable = false;
};
struct header_result {
  header_read status = header_read::closed;
  std::size_t header_bytes = 0;  // size of the header block, still at the front of io.buffer
};

// Reads until `p` has a complete header.
template <class Io, class Parser>
io_awaitable<Io, header_result> read_header(Io& io, Parser& p, const header_wait& wait) {
  bool started = io.buffer.size() > 0;
  const auto arm = [&](milliseconds d) {
    io.deadline.expires_at(std::min(std::chrono::steady_clock::now() + d, wait.not_after));
  };
  arm(started ? wait.whole : wait.first_byte);
  // Beast takes the start line as soon as it is complete, before the rest of the header has
  // arrived: what it used is not fed again (the bytes stay in io.buffer for the checks).
  std::size_t parsed = 0;
  bool read_now = wait.readable;
  for (;;) {
    if (io.buffer.size() > parsed) {
      if (!started) {
        started = true;
        arm(wait.whole);
      }
      error_code ec;
      parsed += p.put(io.buffer.data() + parsed, ec);
      if (!ec && p.is_header_done()) co_return header_result{header_read::ok, parsed};
      if (ec == http::error::header_limit) co_return header_result{header_read::too_large};
      if (ec == http::error::body_limit) co_return header_result{header_read::body_too_large};
      if (ec && ec != http::error::need_more) co_return header_result{header_read::malformed};
      if (io.buffer.size() > wait.limit) co_return header_result{header_read::too_large};
    }
    if (!started && wait.stop_if_idle && wait.stop_if_idle->load(std::memory_order_relaxed))
      co_return header_result{header_read::closed};
    if constexpr (requires { io.socket.try_read_some(io.buffer.prepare(1)); }) {
      if (std::exchange(read_now, false)) {
        if (auto got = io.socket.try_read_some(io.buffer.prepare(block_pool::small)); got > 0) {
          io.buffer.commit(got);
          continue;
        }
      }
    }
    auto [ec, n] =
        co_await io.socket.async_read_some(io.buffer.prepare(block_pool::small), io_tuple<Io>);
    if (ec) {
      // Nothing received yet: a quiet close (as nginx does); a partial header ran out of time
      // or was cut short.
      if (!started) co_return header_result{header_read::closed};
      co_return header_result{io.deadline.timed_out() ? header_read::timed_out
                                                      : header_read::malformed};
    }
    io.buffer.commit(n);
  }
}

// A body piece: an error, or the number of body bytes placed in the relay buffer (0 only when
// the message is done).
using body_piece = std::pair<error_code, std::size_t>;

// Parses body bytes already buffered into `rb`, without reading: nullopt when that gives nothing
// (the message is not done and no body byte was buffered). need_buffer is not an error.
template <class Io, class Parser>
std::optional<body_piece> take_buffered_body(Io& io, Parser& p, relay_buffer& rb) {
  auto& body = p.get().body();
  body.data = rb.data();
  body.size = relay_buffer::capacity;
  p.eager(true);
  if (io.buffer.size() > 0) {
    error_code ec;
    auto used = p.put(io.buffer.data(), ec);
    io.buffer.consume(used);
    if (ec && ec != http::error::need_more && ec != http::error::need_buffer)
      return body_piece{ec, 0};
  }
  std::size_t got = relay_buffer::capacity - body.size;
  if (got > 0 || p.is_done()) return body_piece{error_code{}, got};
  return std::nullopt;
}

// How many bytes of a body that is not chunked may be read straight into the relay buffer
// (in_place_body then only counts them): at most what the body has left, so the bytes of a
// pipelined next request stay on the socket. 0: read into io.buffer and parse from there.
template <class Io, class Parser>
std::size_t in_place_room(const Io& io, const Parser& p) {
  const auto& body = p.get().body();
  if (p.chunked() || io.buffer.size() > 0 || body.data == nullptr) return 0;
  if (const auto left = p.content_length_remaining()) {
    return static_cast<std::size_t>(std::min<std::uint64_t>(*left, body.size));
  }
  return p.need_eof() ? body.size : 0;
}

// Parses body bytes into `rb` — first those already buffered (take_buffered_body), reading from
// the socket only when none are. The end of a close-delimited body is not an error.
template <class Io, class Parser>
io_awaitable<Io, body_piece> read_body_piece(Io& io, Parser& p, relay_buffer& rb,
                                             milliseconds timeout) {
  for (;;) {
    if (auto piece = take_buffered_body(io, p, rb)) co_return *piece;
    auto& body = p.get().body();
    io.deadline.expires_after(timeout);
    const std::size_t room = in_place_room(io, p);
    auto* const in_place = static_cast<char*>(body.data);
    // Chosen before the co_await: GCC 12 evaluated both arms of a conditional operator inside
    // a co_await operand (the read buffer took a 64 KiB block it never used).
    net::mutable_buffer into(in_place, room);
    if (room == 0) into = io.buffer.prepare(block_pool::large);
    auto [ec, n] = co_await io.socket.async_read_some(into, io_tuple<Io>);
    if (ec == net::error::eof && p.need_eof()) {
      error_code eof_ec;
      p.put_eof(eof_ec);  // a close-delimited body ends here
      co_return body_piece{eof_ec, relay_buffer::capacity - body.size};
    }
    if (ec) co_return body_piece{io.classify(ec), 0};
    if (room == 0) {
      io.buffer.commit(n);
      continue;
    }
    error_code pec;
    p.put(net::const_buffer(in_place, n), pec);  // counts them: they are in place already
    if (pec && pec != http::error::need_more && pec != http::error::need_buffer)
      co_return body_piece{pec, 0};
    co_return body_piece{error_code{}, relay_buffer::capacity - body.size};
  }
}

// How a body is framed on the way out.
enum class body_framing { none, raw, chunked };

// One write: `head` (may be empty: already sent) and a body piece, framed. `last` ends the
// body (for chunked, the terminating zero-length chunk). Refers to itself: built in place.
struct framed_piece {
  framed_piece(std::string_view head, body_framing framing, const char* data, std::size_t size,
               bool last) {
    if (!head.empty()) bufs[count++] = net::buffer(head);
    if (framing == body_framing::chunked) {
      if (size > 0) {
        auto end = std::to_chars(chunk_size, chunk_size + 16, size, 16).ptr;
        *end++ = '\r';
        *end++ = '\n';
        bufs[count++] = net::buffer(chunk_size, static_cast<std::size_t>(end - chunk_size));
        bufs[count++] = net::buffer(data, size);
        bufs[count++] = net::buffer("\r\n", 2);
      }
      if (last) bufs[count++] = net::buffer("0\r\n\r\n", 5);
    } else if (size > 0) {
      bufs[count++] = net::buffer(data, size);
    }
  }
  framed_piece(const framed_piece&) = delete;
  framed_piece& operator=(const framed_piece&) = delete;

  // Sends what the socket takes at once, without waiting (plain TCP: one sendmsg, as the
  // asynchronous write would make first; TLS and test streams: nothing). Returns what is left.
  template <class Io>
  std::span<const net::const_buffer> write_now(Io& io) {
    std::span<net::const_buffer> rest(bufs.data(), count);
    if constexpr (requires { io.socket.try_write_some(rest); }) {
      std::size_t sent = rest.empty() ? 0 : io.socket.try_write_some(rest);
      while (!rest.empty() && sent >= rest.front().size()) {
        sent -= rest.front().size();
        rest = rest.subspan(1);
      }
      if (!rest.empty()) rest.front() += sent;
    }
    return rest;
  }

  std::array<net::const_buffer, 5> bufs;
  std::size_t count = 0;
  char chunk_size[20];
};

// Writes `rest` within `timeout`, waiting for the socket as long as it needs.
template <class Io>
io_awaitable<Io, error_code> write_rest(Io& io, std::span<const net::const_buffer> rest,
                                        milliseconds timeout) {
  io.deadline.expires_after(timeout);
  auto [ec, n] = co_await net::async_write(io.socket, rest, io_tuple<Io>);
  co_return io.classify(ec);
}

// Writes `head` and a body piece, framed (framed_piece).
template <class Io>
io_awaitable<Io, error_code> write_piece(Io& io, std::string_view head, body_framing framing,
                                         const char* data, std::size_t size, bool last,
                                         milliseconds timeout) {
  framed_piece piece(head, framing, data, size, last);
  auto rest = piece.write_now(io);
  if (rest.empty()) co_return error_code{};
  co_return co_await write_rest(io, rest, timeout);
}

// Streams the rest of a message: writes `head` plus `pending` bytes already in the relay
// buffer, then alternates reading from `src` and writing to `dst`.
enum class relay_outcome { done, read_failed, write_failed };
struct relay_plan {
  std::string_view head;  // the serialized head, sent with the first piece (empty: already sent)
  body_framing framing = body_framing::none;
  std::size_t pending = 0;  // body bytes already in the relay buffer
  milliseconds timeout{0};  // for every read and write
};
struct relay_result {
  relay_outcome outcome = relay_outcome::done;
  error_code ec;
  std::uint64_t body_bytes = 0;  // body bytes written to dst
};

template <class SrcIo, class Parser, class DstIo>
io_awaitable<SrcIo, relay_result> relay_body(SrcIo& src, Parser& p, DstIo& dst, relay_buffer& rb,
                                             relay_plan plan) {
  relay_result out;
  for (;;) {
    const bool last = p.is_done();
    // A piece the socket takes at once costs no coroutine and no asynchronous operation.
    framed_piece framed(plan.head, plan.framing, plan.pending ? rb.data() : nullptr, plan.pending,
                        last);
    error_code wec;
    if (auto rest = framed.write_now(dst); !rest.empty())
      wec = co_await write_rest(dst, rest, plan.timeout);
    if (wec) {
      out.outcome = relay_outcome::write_failed;
      out.ec = wec;
      co_return out;
    }
    out.body_bytes += plan.pending;
    if (last) co_return out;
    plan.head = {};
    auto piece = take_buffered_body(src, p, rb);  // no coroutine when the bytes are here
    if (!piece) piece = co_await read_body_piece(src, p, rb, plan.timeout);
    auto [rec, got] = *piece;
    if (rec) {
      out.outcome = relay_outcome::read_failed;
      out.ec = rec;
      co_return out;
    }
    plan.pending = got;
  }
}

}  // namespace tally::proxy
