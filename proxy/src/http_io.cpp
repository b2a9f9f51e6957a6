#include "http_io.hpp"

#include <array>
#include <charconv>
#include <span>

#include <boost/asio/write.hpp>

namespace tally::proxy {

void append_fields(std::string& out, const http::fields& f) {
  for (const auto& field : f) {
    out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  out.append("\r\n");
}

void serialize_request_head(std::string& out, const http::request_header<>& h) {
  out.clear();
  out.append(h.method_string()).append(" ").append(h.target());
  out.append(h.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  append_fields(out, h);
}

void serialize_response_head(std::string& out, const http::response_header<>& h) {
  out.clear();
  out.append(h.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char code[4];
  auto n = std::to_chars(code, code + sizeof code, h.result_int()).ptr - code;
  out.append(code, static_cast<std::size_t>(n)).append(" ");
  auto reason = h.reason();
  out.append(reason.empty() ? http::obsolete_reason(h.result()) : reason).append("\r\n");
  append_fields(out, h);
}

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
