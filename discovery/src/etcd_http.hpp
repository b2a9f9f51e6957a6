// The HTTP exchanges with one etcd endpoint: a bounded JSON POST (range reads), and opening a
// watch stream whose body is then read as it arrives.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "tally/config/config.hpp"

namespace tally::discovery::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Everything that can fail reports a sentence for the log; empty = success.
struct post_result {
  std::string error;
  std::string body;
};

// Connects (resolving a name asynchronously), sends `body` to `path` and reads the whole
// response, all within `timeout`. Non-200 answers are errors quoting etcd's message.
net::awaitable<post_result> post_json(beast::tcp_stream& stream, const config::host_port& endpoint,
                                      std::string path, std::string body, std::string token,
                                      std::chrono::milliseconds timeout);

// Connects, sends the watch request and reads the response header within `timeout`; the body
// is left to the caller, read through `parser` and `buffer`.
net::awaitable<std::string> open_stream(beast::tcp_stream& stream,
                                        const config::host_port& endpoint, std::string path,
                                        std::string body, std::string token,
                                        std::chrono::milliseconds timeout,
                                        beast::flat_buffer& buffer,
                                        http::response_parser<http::buffer_body>& parser);

}  // namespace tally::discovery::detail
