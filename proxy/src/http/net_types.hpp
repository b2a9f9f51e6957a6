// Names used by every networking file of the proxy (Beast's conventions).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "http/header_arena.hpp"
#include "tally/common/use_tuple.hpp"

namespace tally::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// Parsed fields live in the connection's header_arena instead of one heap block per field.
using proxy_allocator = arena_allocator<char>;
using proxy_fields = http::basic_fields<proxy_allocator>;
using request_parser = http::parser<true, http::buffer_body, proxy_allocator>;
using response_parser = http::parser<false, http::buffer_body, proxy_allocator>;

}  // namespace tally::proxy
