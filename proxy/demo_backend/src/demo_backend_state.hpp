// Private to demo_backend*.cpp: the state shared by a demo_backend, its accept loop and its
// sessions, and the session class itself.
#pragma once

#include "tally/proxy/demo_backend.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace tally::proxy::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

class demo_backend_session;

struct demo_backend_state {
  demo_backend_state(net::io_context& context, std::string backend_name)
      : ioc(context),
        name(std::move(backend_name)),
        acceptor_strand(net::make_strand(context)),
        acceptor(acceptor_strand) {}

  net::io_context& ioc;
  const std::string name;
  demo_backend_stats stats;
  std::atomic<bool> healthy{true};
  std::uint16_t port = 0;  // written once by the constructor, before anything else runs

  // The acceptor is only touched on its strand once the accept loop has started.
  net::strand<net::io_context::executor_type> acceptor_strand;
  net::ip::tcp::acceptor acceptor;

  // Guards everything below; held only for map/vector updates, never across I/O.
  mutable std::mutex mutex;
  bool stopping = false;
  std::uint64_t next_session_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<demo_backend_session>> sessions;
  std::vector<std::pair<std::string, std::string>> last_headers;
};

// One accepted connection: a linear co_await loop of read header → read body → respond,
// running on its own strand (the executor of its socket).
class demo_backend_session {
 public:
  // Every read and write of the backend gets this long before the stream gives up.
  static constexpr std::chrono::seconds io_timeout{30};
  static constexpr std::size_t piece_size = std::size_t{64} * 1024;

  demo_backend_session(std::shared_ptr<demo_backend_state> state, net::ip::tcp::socket socket);

  // Serves requests until the peer leaves, asks to close, times out or stop() closes it.
  // Takes the session by shared_ptr so the coroutine frame keeps it alive.
  static net::awaitable<void> run(std::shared_ptr<demo_backend_session> self);

  // Aborts pending I/O and timers; must run on the session's executor.
  void close();
  // Answers the /hold request this session holds, if any; must run on the session's executor.
  void release_hold();
  net::any_io_executor get_executor() { return stream_.get_executor(); }

 private:
  struct body_summary {
    std::uint64_t bytes = 0;
    std::uint64_t fnv = demo_backend::fnv1a_initial;
  };
  using parser_type = http::request_parser<http::buffer_body>;

  net::awaitable<bool> serve_one();
  net::awaitable<bool> answer(parser_type& parser, std::string_view path, std::string_view query,
                              const body_summary& body);
  net::awaitable<bool> read_body(parser_type& parser, body_summary& summary, bool hash);
  net::awaitable<bool> write_text(const parser_type& parser, http::status status, std::string body,
                                  bool keep_alive);
  net::awaitable<bool> write_pattern(const parser_type& parser, std::uint64_t size, bool chunked);

  std::shared_ptr<demo_backend_state> state_;
  beast::tcp_stream stream_;
  net::steady_timer timer_;  // for /delay and /hold; cancelled by close() and release_hold()
  bool holding_ = false;     // a /hold request waits on timer_
  bool hold_released_ = false;
  beast::flat_buffer buffer_;
  std::array<char, piece_size> body_buffer_;
};

}  // namespace tally::proxy::detail
