// The connection I/O of the request path, driven in memory by Beast's test::stream: partial
// reads, header limits, timeouts and chunked relay, with no socket and no other thread.
#include <doctest/doctest.h>

#include <cstring>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/http_io.hpp"

using namespace tally::proxy;
using test_io = basic_connection_io<beast::test::stream>;
using std::chrono::milliseconds;

namespace {

// Runs one coroutine to its end on `ioc` and returns its value.
template <class T, class Executor>
T run(net::io_context& ioc, net::awaitable<T, Executor> op) {
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

// One side of a connection under test, with the peer that writes to it and reads from it.
struct connected {
  net::io_context ioc;
  beast::test::stream peer{ioc};
  test_io io{beast::test::stream(ioc)};
  request_under_test request;
  connected() { io.socket.connect(peer); }

  header_result read_head(header_wait wait = {16 * 1024, milliseconds(5000), milliseconds(5000)}) {
    return run(ioc, read_header(io, request.parser, wait));
  }
};

constexpr std::string_view get_request =
    "GET /items?id=7 HTTP/1.1\r\nHost: example.com\r\nX-Long: aaaaaaaaaaaaaaaa\r\n\r\n";

}  // namespace

TEST_CASE("http_io: a header arriving one byte at a time is parsed whole") {
  connected c;
  c.io.socket.read_size(1);
  c.peer.write_some(net::buffer(get_request));
  auto got = c.read_head();
  CHECK(got.status == header_read::ok);
  CHECK(got.header_bytes == get_request.size());
  CHECK(c.request.parser.get().target() == "/items?id=7");
  CHECK(c.request.parser.get()[http::field::host] == "example.com");
  CHECK(c.io.socket.nread() >= get_request.size());  // really read in pieces
}

TEST_CASE("http_io: a header whose start line arrived before the rest is parsed once") {
  // Found by fuzzing (tests/fuzz/regressions/request_head/split_after_request_line.http): Beast
  // consumes a complete start line at once; feeding it again read it as a field and gave 400.
  constexpr std::string_view head =
      "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
  for (std::size_t cut : {16u, 25u, 41u, 75u}) {
    CAPTURE(cut);
    connected c;
    // The first piece is already buffered (an earlier read); the rest comes from the socket.
    auto first = head.substr(0, cut);
    net::buffer_copy(c.io.buffer.prepare(first.size()), net::buffer(first));
    c.io.buffer.commit(first.size());
    c.peer.write_some(net::buffer(head.substr(cut)));
    auto got = c.read_head();
    CHECK(got.status == header_read::ok);
    CHECK(got.header_bytes == head.size());
    CHECK(c.request.parser.get()[http::field::user_agent] == "curl/7.88.1");
  }
}

TEST_CASE("http_io: a header block over the limit is too_large, a cut one malformed") {
  connected c;
  SUBCASE("limit") {
    c.peer.write_some(net::buffer(get_request));
    c.request.parser.header_limit(32);
    CHECK(c.read_head({32, milliseconds(5000), milliseconds(5000)}).status ==
          header_read::too_large);
  }
  SUBCASE("cut short by the client") {
    c.peer.write_some(net::buffer(get_request.substr(0, 20)));
    c.peer.close();
    CHECK(c.read_head().status == header_read::malformed);
  }
  SUBCASE("closed before a byte") {
    c.peer.close();
    CHECK(c.read_head().status == header_read::closed);
  }
}

TEST_CASE("http_io: a header that stops arriving times out as a whole") {
  connected c;
  c.peer.write_some(net::buffer(get_request.substr(0, 10)));  // then nothing more
  CHECK(c.read_head({16 * 1024, milliseconds(5000), milliseconds(30)}).status ==
        header_read::timed_out);
  CHECK(c.io.deadline.timed_out());
}

TEST_CASE("http_io: a chunked body in odd pieces is relayed re-framed and whole") {
  connected c;
  beast::test::stream backend(c.ioc);
  test_io to{beast::test::stream(c.ioc)};
  to.socket.connect(backend);
  c.io.socket.read_size(3);
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
  c.peer.write_some(net::buffer(wire));

  auto head = c.read_head();
  REQUIRE(head.status == header_read::ok);
  c.io.buffer.consume(head.header_bytes);
  relay_buffer rb;
  auto relayed =
      run(c.ioc, relay_body(c.io, c.request.parser, to, rb,
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

TEST_CASE(
    "http_io: a length-delimited body is read into the relay buffer in place, and the "
    "pipelined request after it stays unread") {
  connected c;
  c.io.socket.read_size(1000);  // the body arrives over several reads
  std::string body(5000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + i % 26);
  const std::string next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
  c.peer.write_some(
      net::buffer("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + body + next));
  auto head = c.read_head();
  REQUIRE(head.status == header_read::ok);
  c.io.buffer.consume(head.header_bytes);
  relay_buffer rb;
  std::string relayed;
  while (!c.request.parser.is_done()) {
    auto [ec, got] = run(c.ioc, read_body_piece(c.io, c.request.parser, rb, milliseconds(5000)));
    REQUIRE_FALSE(ec);
    REQUIRE(got > 0);
    relayed.append(rb.data(), got);
  }
  CHECK(relayed.size() == body.size());
  CHECK((relayed == body));
  // Read in place: the read buffer never grew to the 64 KiB block a body read into it takes.
  CHECK(c.io.buffer.capacity() < block_pool::large);
  // The next request's bytes were not taken as body: the following head reads it whole.
  request_under_test second;
  auto next_head = run(
      c.ioc, read_header(c.io, second.parser, {16 * 1024, milliseconds(5000), milliseconds(5000)}));
  REQUIRE(next_head.status == header_read::ok);
  CHECK(second.parser.get().target() == "/next");
}

TEST_CASE("http_io: in_place_body counts bytes already in place and copies the others") {
  request_under_test r;
  in_place_body::value_type room;
  in_place_body::reader reader(r.parser.get().base(), room);
  char space[8] = {};
  error_code ec;
  // No room: need_buffer, nothing taken.
  CHECK(reader.put(net::buffer("abc", 3), ec) == 0);
  CHECK(ec == http::error::need_buffer);
  room.data = space;
  room.size = sizeof space;
  // Bytes elsewhere are copied in.
  CHECK(reader.put(net::buffer("abc", 3), ec) == 3);
  CHECK_FALSE(ec);
  CHECK(std::string_view(space, 3) == "abc");
  // Bytes already where they go are counted: the room advances, the bytes stay.
  std::memcpy(space + 3, "de", 2);
  CHECK(reader.put(net::buffer(space + 3, 2), ec) == 2);
  CHECK_FALSE(ec);
  CHECK(room.data == space + 5);
  CHECK(room.size == 3);
  // More than the room: what fits is taken, and need_buffer asks for more room.
  CHECK(reader.put(net::buffer("fghij", 5), ec) == 3);
  CHECK(ec == http::error::need_buffer);
  CHECK(std::string_view(space, 8) == "abcdefgh");
}

TEST_CASE("http_io: bad chunk framing is an error from read_body_piece") {
  connected c;
  c.peer.write_some(net::buffer(std::string_view(
      "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n")));
  auto head = c.read_head();
  REQUIRE(head.status == header_read::ok);
  c.io.buffer.consume(head.header_bytes);
  relay_buffer rb;
  auto [ec, got] = run(c.ioc, read_body_piece(c.io, c.request.parser, rb, milliseconds(5000)));
  CHECK(ec);
  CHECK(got == 0);
}

TEST_CASE(
    "http_io: a piece the socket cannot take at once is sent in part, the rest when it drains") {
  // A real socket with small buffers: write_now sends what fits, write_rest the rest, in order.
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
  tcp::socket client(ioc, tcp::v4());
  client.set_option(net::socket_base::receive_buffer_size(4096));
  client.connect(acceptor.local_endpoint());
  connection_io server{proxy_stream(tcp_socket(ioc))};
  acceptor.accept(server.socket.lowest_layer());
  server.socket.lowest_layer().set_option(net::socket_base::send_buffer_size(4096));
  std::string body(std::size_t{1} << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + i % 23);
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string expected = head + "100000\r\n" + body + "\r\n0\r\n\r\n";
  std::string received(expected.size(), '\0');
  std::thread reader([&] {
    std::this_thread::sleep_for(milliseconds(50));  // let the socket fill first
    net::read(client, net::buffer(received));
  });
  framed_piece piece(head, body_framing::chunked, body.data(), body.size(), true);
  auto rest = piece.write_now(server);
  CHECK_FALSE(rest.empty());  // 1 MiB does not fit a 4 KiB send buffer
  auto ec = run(ioc, write_rest(server, rest, milliseconds(5000)));
  reader.join();
  CHECK_FALSE(ec);
  CHECK(received == expected);
}
