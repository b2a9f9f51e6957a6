// Names used by every networking file of the proxy (Beast's conventions).
#pragma once

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "http/frame_pool.hpp"  // before any awaitable<T> coroutine: its frames' allocator
#include "http/header_arena.hpp"
#include "http/in_place_body.hpp"
#include "tally/common/use_tuple.hpp"

namespace tally::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// The request path runs on its worker's io_context and names that executor's concrete type:
// sockets, timers and coroutines that carry net::any_io_executor pay for its type erasure
// (an indirect call and a copy of a four-word object) on every operation and completion.
// Everything a request's coroutines touch uses these; other code keeps net::awaitable<T>
// and tally::use_tuple. A coroutine of one kind cannot co_await the other (a compile error).
using worker_executor = net::io_context::executor_type;
template <class T>
using awaitable = net::awaitable<T, worker_executor>;
using tcp_socket = tcp::socket::rebind_executor<worker_executor>::other;
using worker_timer = net::steady_timer::rebind_executor<worker_executor>::other;
// use_tuple (tally/common/use_tuple.hpp) for awaitable<T>.
inline constexpr auto use_worker_tuple = net::as_tuple(net::use_awaitable_t<worker_executor>{});

// Parsed fields live in the connection's header_arena instead of one heap block per field.
using proxy_allocator = arena_allocator<char>;
using proxy_fields = http::basic_fields<proxy_allocator>;
using request_parser = http::parser<true, in_place_body, proxy_allocator>;
using response_parser = http::parser<false, in_place_body, proxy_allocator>;

}  // namespace tally::proxy
