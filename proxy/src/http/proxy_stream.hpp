// The byte stream of one connection, client or backend side: a TCP socket, or TLS over it.
//
// One type for both, chosen at run time, so the request path (http_io, the session, the
// exchange) is compiled once and a plain connection pays one predictable branch per operation
// instead of a type-erased stream. The TLS state exists only on TLS connections: a plain
// connection carries a null pointer. Once TLS has started the object must not move (the TLS
// stream refers to the socket), which connection_io never does.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cassert>
#include <memory>
#include <span>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

namespace tally::proxy {

class proxy_stream {
 public:
  using tcp = boost::asio::ip::tcp;
  // The worker's concrete executor (net_types.hpp's worker_executor), not any_io_executor.
  using executor_type = boost::asio::io_context::executor_type;
  using socket_type = tcp::socket::rebind_executor<executor_type>::other;
  using lowest_layer_type = socket_type;
  using tls_stream = boost::asio::ssl::stream<socket_type&>;

  explicit proxy_stream(socket_type s) : socket_(std::move(s)) {}
  proxy_stream(proxy_stream&& other) noexcept : socket_(std::move(other.socket_)) {
    assert(!other.tls_);  // a TLS stream refers to the socket it was built on
  }
  proxy_stream& operator=(proxy_stream&&) = delete;
  proxy_stream(const proxy_stream&) = delete;
  proxy_stream& operator=(const proxy_stream&) = delete;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& lowest_layer() noexcept { return socket_; }

  // Begins TLS on the connected socket; the handshake is the caller's next operation. The SSL
  // object holds a reference to `ctx`'s SSL_CTX, so the context may be replaced meanwhile.
  tls_stream& start_tls(boost::asio::ssl::context& ctx) {
    tls_ = std::make_unique<tls_stream>(socket_, ctx);
    return *tls_;
  }
  bool secure() const noexcept { return tls_ != nullptr; }
  tls_stream* tls() noexcept { return tls_.get(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return socket_.async_write_some(buffers, std::forward<Token>(token));
  }
  // Sends what a plain socket takes now, without waiting; 0 on TLS, when the socket is full,
  // or on an error (the asynchronous write that follows meets it again and reports it).
  std::size_t try_write_some(std::span<const boost::asio::const_buffer> buffers) noexcept {
    if (tls_ || buffers.empty()) return 0;
    std::array<iovec, 8> iov;
    std::size_t n = 0;
    for (const auto& b : buffers) {
      if (n == iov.size()) break;
      iov[n++] = iovec{const_cast<void*>(b.data()), b.size()};
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    const auto sent = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return sent > 0 ? static_cast<std::size_t>(sent) : 0;
  }

  // Receives what a plain socket holds now, without waiting; 0 on TLS, when nothing is there,
  // at the end of the stream or on an error (the asynchronous read that follows reports it).
  std::size_t try_read_some(boost::asio::mutable_buffer buffer) noexcept {
    if (tls_) return 0;
    const auto got = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    return got > 0 ? static_cast<std::size_t>(got) : 0;
  }

  template <class Token>
  auto async_connect(const tcp::endpoint& ep, Token&& token) {
    return socket_.async_connect(ep, std::forward<Token>(token));
  }

  // Closing and cancelling act on the socket: a TLS operation in progress then fails.
  void cancel(boost::system::error_code& ec) { socket_.cancel(ec); }
  void close(boost::system::error_code& ec) { socket_.close(ec); }
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  void shutdown(tcp::socket::shutdown_type what, boost::system::error_code& ec) {
    socket_.shutdown(what, ec);
  }
  bool is_open() const noexcept { return socket_.is_open(); }
  socket_type::native_handle_type native_handle() { return socket_.native_handle(); }
  tcp::endpoint remote_endpoint(boost::system::error_code& ec) const {
    return socket_.remote_endpoint(ec);
  }
  template <class Option>
  void set_option(const Option& o, boost::system::error_code& ec) {
    socket_.set_option(o, ec);
  }

 private:
  socket_type socket_;
  std::unique_ptr<tls_stream> tls_;
};

}  // namespace tally::proxy
