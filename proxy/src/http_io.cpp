#include "http_io.hpp"

#include <array>
#include <charconv>
#include <span>

#include <boost/asio/write.hpp>

namespace tally::proxy {

net::awaitable<error_code> write_piece(connection_io& io, std::string_view head,
                                       body_framing framing, const char* data, std::size_t size,
                                       bool last, milliseconds timeout) {
  std::array<net::const_buffer, 5> bufs;
  std::size_t count = 0;
  if (!head.empty()) bufs[count++] = net::buffer(head);
  char chunk_size[20];
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
  if (count == 0) co_return error_code{};
  io.deadline.expires_after(timeout);
  auto [ec, n] = co_await net::async_write(
      io.socket, std::span<const net::const_buffer>(bufs.data(), count), use_tuple);
  co_return io.classify(ec);
}

}  // namespace tally::proxy
