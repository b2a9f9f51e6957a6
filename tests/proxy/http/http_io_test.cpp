// The connection I/O of the request path, driven in memory by Beast's test::stream: partial
// reads, header limits, timeouts and chunked relay, with no socket and no other thread.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/http_io.hpp"

using namespace tally::proxy;
using test_io = basic_connection_io<beast::test::stream>;
using std::chrono::milliseconds;

namespace {

// Runs one coroutine to its end on `ioc` and returns its value.
template <class T>
T run(net::io_context& ioc, net::awaitable<T> op) {
  std::optional<T> out;
  net::co_spawn(ioc, std::move(op), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out = std::move(value);
  });
  ioc.run();
  ioc.restart();
  REQUIRE(out.has_value());
  return std::move(*out);
}

struct request_under_test {
  header_arena arena;
  request_parser parser{std::piecewise_construct, std::make_tuple(),
                        std::make_tuple(proxy_allocator(arena))};
};

constexpr std::string_view get_request =
    "GET /items?id=7 HTTP/1.1\r\nHost: example.com\r\nX-Long: aaaaaaaaaaaaaaaa\r\n\r\n";

}  // namespace

TEST_CASE("http_io: a header arriving one byte at a time is parsed whole") {
  net::io_context ioc;
  beast::test::stream peer(ioc);
  test_io io{beast::test::stream(ioc)};
  io.socket.connect(peer);
  io.socket.read_size(1);
  peer.write_some(net::buffer(get_request));
  request_under_test r;
  auto got = run(ioc, read_header(io, r.parser,
                                  header_wait{16 * 1024, milliseconds(5000), milliseconds(5000)}));
  CHECK(got.status == header_read::ok);
  CHECK(got.header_bytes == get_request.size());
  CHECK(r.parser.get().target() == "/items?id=7");
  CHECK(r.parser.get()[http::field::host] == "example.com");
  CHECK(io.socket.nread() >= get_request.size());  // really read in pieces
}

TEST_CASE("http_io: a header whose start line arrived before the rest is parsed once") {
  // Found by fuzzing (tests/fuzz/regressions/request_head/split_after_request_line.http): Beast
  // consumes a complete start line at once; feeding it again read it as a field and gave 400.
  constexpr std::string_view head =
      "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
  for (std::size_t cut : {16u, 25u, 41u, 75u}) {
    CAPTURE(cut);
    net::io_context ioc;
    beast::test::stream peer(ioc);
    test_io io{beast::test::stream(ioc)};
    io.socket.connect(peer);
    // The first piece is already buffered (an earlier read); the rest comes from the socket.
    auto first = head.substr(0, cut);
    net::buffer_copy(io.buffer.prepare(first.size()), net::buffer(first));
    io.buffer.commit(first.size());
    peer.write_some(net::buffer(head.substr(cut)));
    request_under_test r;
    auto got = run(
        ioc,
        read_header(io, r.parser, header_wait{16 * 1024, milliseconds(5000), milliseconds(5000)}));
    CHECK(got.status == header_read::ok);
    CHECK(got.header_bytes == head.size());
    CHECK(r.parser.get()[http::field::user_agent] == "curl/7.88.1");
  }
}

TEST_CASE("http_io: a header block over the limit is too_large, a cut one malformed") {
  net::io_context ioc;
  SUBCASE("limit") {
    beast::test::stream peer(ioc);
    test_io io{beast::test::stream(ioc)};
    io.socket.connect(peer);
    peer.write_some(net::buffer(get_request));
    request_under_test r;
    r.parser.header_limit(32);
    auto got = run(
        ioc, read_header(io, r.parser, header_wait{32, milliseconds(5000), milliseconds(5000)}));
    CHECK(got.status == header_read::too_large);
  }
  SUBCASE("cut short by the client") {
    beast::test::stream peer(ioc);
    test_io io{beast::test::stream(ioc)};
    io.socket.connect(peer);
    peer.write_some(net::buffer(get_request.substr(0, 20)));
    peer.close();
    request_under_test r;
    auto got = run(
        ioc,
        read_header(io, r.parser, header_wait{16 * 1024, milliseconds(5000), milliseconds(5000)}));
    CHECK(got.status == header_read::malformed);
  }
  SUBCASE("closed before a byte") {
    beast::test::stream peer(ioc);
    test_io io{beast::test::stream(ioc)};
    io.socket.connect(peer);
    peer.close();
    request_under_test r;
    auto got = run(
        ioc,
        read_header(io, r.parser, header_wait{16 * 1024, milliseconds(5000), milliseconds(5000)}));
    CHECK(got.status == header_read::closed);
  }
}

TEST_CASE("http_io: a header that stops arriving times out as a whole") {
  net::io_context ioc;
  beast::test::stream peer(ioc);
  test_io io{beast::test::stream(ioc)};
  io.socket.connect(peer);
  peer.write_some(net::buffer(get_request.substr(0, 10)));  // then nothing more
  request_under_test r;
  auto got = run(
      ioc, read_header(io, r.parser, header_wait{16 * 1024, milliseconds(5000), milliseconds(30)}));
  CHECK(got.status == header_read::timed_out);
  CHECK(io.deadline.timed_out());
}

TEST_CASE("http_io: a chunked body in odd pieces is relayed re-framed and whole") {
  net::io_context ioc;
  beast::test::stream client(ioc), backend(ioc);
  test_io from{beast::test::stream(ioc)};
  test_io to{beast::test::stream(ioc)};
  from.socket.connect(client);
  to.socket.connect(backend);
  from.socket.read_size(3);
  std::string body_text;
  std::string wire = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 40; ++i) {
    std::string piece(static_cast<std::size_t>(i * 7 + 1), static_cast<char>('a' + i % 26));
    body_text += piece;
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    wire += size + piece + "\r\n";
  }
  wire += "0\r\n\r\n";
  client.write_some(net::buffer(wire));

  request_under_test r;
  relay_buffer rb;
  auto head = run(ioc, read_header(from, r.parser,
                                   header_wait{16 * 1024, milliseconds(5000), milliseconds(5000)}));
  REQUIRE(head.status == header_read::ok);
  from.buffer.consume(head.header_bytes);
  auto relayed =
      run(ioc, relay_body(from, r.parser, to, rb,
                          relay_plan{"HEAD\r\n", body_framing::chunked, 0, milliseconds(5000)}));
  CHECK(relayed.outcome == relay_outcome::done);
  CHECK(relayed.body_bytes == body_text.size());

  // What reached the backend parses back to the same body.
  std::string received(backend.str());
  REQUIRE(received.starts_with("HEAD\r\n"));
  http::request_parser<http::string_body> check;
  check.eager(true);
  std::string as_request = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           received.substr(std::string_view("HEAD\r\n").size());
  error_code ec;
  check.put(net::buffer(as_request), ec);
  CHECK_FALSE(ec);
  CHECK(check.is_done());
  CHECK(check.get().body().size() == body_text.size());
  CHECK((check.get().body() == body_text));
}

TEST_CASE("http_io: bad chunk framing is an error from read_body_piece") {
  net::io_context ioc;
  beast::test::stream client(ioc);
  test_io from{beast::test::stream(ioc)};
  from.socket.connect(client);
  client.write_some(net::buffer(std::string_view(
      "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n")));
  request_under_test r;
  relay_buffer rb;
  auto head = run(ioc, read_header(from, r.parser,
                                   header_wait{16 * 1024, milliseconds(5000), milliseconds(5000)}));
  REQUIRE(head.status == header_read::ok);
  from.buffer.consume(head.header_bytes);
  auto [ec, got] = run(ioc, read_body_piece(from, r.parser, rb, milliseconds(5000)));
  CHECK(ec);
  CHECK(got == 0);
}
