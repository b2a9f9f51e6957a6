// HTTP at the edges (SPEC "Proxying", Edges): what tally does with backends and clients that
// bend the protocol. Backends are scripted (support/scripted_backend.hpp); clients are raw
// sockets or the test client.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/proxy_fixture.hpp"
#include "support/scripted_backend.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace tally::test;

namespace {

constexpr std::string_view ok_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

std::string status_line(std::string_view raw) {
  return std::string(raw.substr(0, raw.find("\r\n")));
}

// The declared Content-Length of a request head, 0 when none.
std::size_t content_length(const std::string& head) {
  auto at = head.find("Content-Length: ");
  return at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
}

// Serves requests on the connection until the client closes it: records each head, reads its
// declared body and answers 200 "ok".
void serve_ok(scripted_backend& b, raw_peer& peer) {
  while (auto head = peer.read_head()) {
    b.record(*head);
    if (!peer.read_exact(content_length(*head))) return;
    if (!peer.write(ok_response)) return;
  }
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string one_pool(const std::string& address, const std::string& pool_extra = "",
                     const std::string& top = "workers: 1\n") {
  return proxy_yaml({{"web", "round_robin", {address}, {}, pool_extra}}, top);
}

}  // namespace

TEST_CASE("a POST is never sent twice: the backend closes the pooled connection it arrives on") {
  scripted_backend* self = nullptr;
  scripted_backend backend([&](raw_peer& peer, std::size_t n) {
    if (n > 0) return serve_ok(*self, peer);
    // The first connection answers one GET, then closes as the next request arrives (the
    // race every keep-alive proxy meets): the POST reached the backend, which may act on it.
    auto get = peer.read_head();
    if (!get) return;
    self->record(*get);
    peer.write(ok_response);
    if (auto post = peer.read_head()) self->record(*post);
  });
  self = &backend;
  proxy_fixture proxy(one_pool(backend.address(), "    retry: { attempts: 2, backoff: 0ms }\n"));
  http_connection conn(proxy.port());
  CHECK(conn.request("GET", "/").status == 200);
  auto post = conn.request("POST", "/pay", {}, "hello");
  CHECK(post.status == 502);
  CHECK(count_method(backend.recorded(), "POST") == 1);
}

TEST_CASE(
    "a backend's close in its second Connection field is heeded: the next request goes on "
    "a new connection") {
  scripted_backend* self = nullptr;
  std::atomic<int> reused{0};
  scripted_backend backend([&](raw_peer& peer, std::size_t n) {
    if (n > 0) return serve_ok(*self, peer);
    auto get = peer.read_head();
    if (!get) return;
    self->record(*get);
    // One list, two lines (RFC 9110 5.3): "keep-alive, close". A request that still arrives
    // here was sent on a connection the backend said it would close: it gets no answer.
    peer.write(
        "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\nConnection: "
        "close\r\n\r\nok");
    if (auto late = peer.read_head()) reused.fetch_add(1);
  });
  self = &backend;
  proxy_fixture proxy(one_pool(backend.address()));
  http_connection conn(proxy.port());
  CHECK(conn.request("GET", "/").status == 200);
  CHECK(conn.request("POST", "/pay", {}, "hello").status == 200);
  CHECK(reused.load() == 0);
  CHECK(backend.connections() == 2);
}

TEST_CASE("a GET on a pooled connection the backend closed is sent again on a new one") {
  scripted_backend* self = nullptr;
  scripted_backend backend([&](raw_peer& peer, std::size_t n) {
    if (n > 0) return serve_ok(*self, peer);
    auto get = peer.read_head();
    if (!get) return;
    self->record(*get);
    peer.write(ok_response);
    if (auto again = peer.read_head()) self->record(*again);
  });
  self = &backend;
  proxy_fixture proxy(one_pool(backend.address(), "    retry: { attempts: 0 }\n"));
  http_connection conn(proxy.port());
  CHECK(conn.request("GET", "/").status == 200);
  CHECK(conn.request("GET", "/again").status == 200);
  CHECK(count_method(backend.recorded(), "GET") == 3);
}

TEST_CASE("a POST does not reuse a backend connection idle for more than a second") {
  scripted_backend* self = nullptr;
  scripted_backend backend([&](raw_peer& peer, std::size_t) { serve_ok(*self, peer); });
  self = &backend;
  proxy_fixture proxy(one_pool(backend.address()));
  http_connection conn(proxy.port());
  CHECK(conn.request("GET", "/").status == 200);
  CHECK(backend.connections() == 1);
  // The idle age is what is under test: a backend's idle close is likeliest on old connections.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  CHECK(conn.request("POST", "/pay", {}, "hello").status == 200);
  CHECK(backend.connections() == 2);
  // A fresh connection is reused at once, by any method.
  CHECK(conn.request("POST", "/pay", {}, "hello").status == 200);
  CHECK(backend.connections() == 2);
}

TEST_CASE(
    "tally's own errors to HEAD carry no body: the next response on the connection is clean") {
  SUBCASE("404") {
    backend_set backends(1);
    proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}}, "",
                                   "  - { host: only.example.com, pool: web }\n"));
    auto raw =
        raw_exchange(proxy.port(),
                     "HEAD /x HTTP/1.1\r\nHost: other.example.com\r\n\r\n"
                     "GET / HTTP/1.1\r\nHost: only.example.com\r\nConnection: close\r\n\r\n");
    CHECK(status_line(raw) == "HTTP/1.1 404 Not Found");
    auto second = raw.substr(raw.find("\r\n\r\n") + 4);
    CHECK(status_line(second) == "HTTP/1.1 200 OK");
  }
  SUBCASE("502") {
    proxy_fixture proxy(
        one_pool("127.0.0.1:" + std::to_string(unused_port()), "    retry: { attempts: 0 }\n"));
    auto raw = raw_exchange(proxy.port(),
                            "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
                            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(status_line(raw) == "HTTP/1.1 502 Bad Gateway");
    auto second = raw.substr(raw.find("\r\n\r\n") + 4);
    CHECK(status_line(second) == "HTTP/1.1 502 Bad Gateway");
    CHECK(second.find("Bad Gateway: ") != std::string::npos);  // GET's answer has its body
  }
}

TEST_CASE("a 404 is written to the access log") {
  backend_set backends(1);
  temp_dir dir;
  const auto log = (dir.path() / "access.log").string();
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}},
                                 "access_log: { enabled: true, path: " + log + " }\n",
                                 "  - { host: only.example.com, pool: web }\n"));
  CHECK(http_get(proxy.port(), "/nowhere", {{"Host", "other.example.com"}}).status == 404);
  CHECK(eventually([&] {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return text.str().find("\"status\":404") != std::string::npos &&
           text.str().find("/nowhere") != std::string::npos;
  }));
}

TEST_CASE("a backend that sends a head and closes before the body: the GET is retried") {
  backend_set good(1);
  scripted_backend broken([](raw_peer& peer, std::size_t) {
    if (!peer.read_head()) return;
    peer.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  });
  proxy_fixture proxy(proxy_yaml(
      {{"web",
        "round_robin",
        {broken.address(), good.address(0)},
        {},
        "    retry: { attempts: 2, on: [connect_failure, reset, timeout], backoff: 0ms }\n"}},
      "workers: 1\n"));
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(http_get(proxy.port(), "/").status == 200);
  }
  CHECK(broken.connections() >= 1);
  CHECK(good.backend(0).stats().requests.load() == 4);
}

TEST_CASE("a backend that resets or closes without answering: the GET is retried") {
  backend_set good(1);
  scripted_backend broken([](raw_peer& peer, std::size_t n) {
    if (!peer.read_head()) return;
    if (n % 2 == 0) peer.reset();
  });
  proxy_fixture proxy(proxy_yaml(
      {{"web",
        "round_robin",
        {broken.address(), good.address(0)},
        {},
        "    retry: { attempts: 2, on: [connect_failure, reset, timeout], backoff: 0ms }\n"}},
      "workers: 1\n"));
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(http_get(proxy.port(), "/").status == 200);
  }
}

TEST_CASE("interim responses: at most 10 per request") {
  auto interims = [](int count) {
    return [count](raw_peer& peer, std::size_t) {
      if (!peer.read_head()) return;
      for (int i = 0; i < count; ++i)
        peer.write("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
      peer.write(ok_response);
    };
  };
  scripted_backend few(interims(3));
  proxy_fixture ok_proxy(one_pool(few.address(), "    retry: { attempts: 0 }\n"));
  auto r = http_get(ok_proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  scripted_backend many(interims(11));
  proxy_fixture bad_proxy(one_pool(many.address(), "    retry: { attempts: 0 }\n"));
  CHECK(http_get(bad_proxy.port(), "/").status == 502);
}

TEST_CASE("interim responses do not extend timeouts.upstream_response") {
  scripted_backend slow([](raw_peer& peer, std::size_t) {
    if (!peer.read_head()) return;
    for (int i = 0; i < 8; ++i) {
      if (!peer.write("HTTP/1.1 100 Continue\r\n\r\n")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    peer.write(ok_response);
  });
  proxy_fixture proxy(one_pool(slow.address(), "    retry: { attempts: 0 }\n",
                               "workers: 1\ntimeouts: { upstream_response: 500ms }\n"));
  CHECK(http_get(proxy.port(), "/").status == 504);
}

TEST_CASE("a 101 the client did not ask for is a 502, and its connection is not reused") {
  scripted_backend* self = nullptr;
  scripted_backend backend([&](raw_peer& peer, std::size_t n) {
    if (n > 0) return serve_ok(*self, peer);
    if (!peer.read_head()) return;
    peer.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
    peer.read_head();
  });
  self = &backend;
  proxy_fixture proxy(one_pool(backend.address(), "    retry: { attempts: 0 }\n"));
  http_connection conn(proxy.port());
  CHECK(conn.request("GET", "/").status == 502);
  CHECK(conn.request("GET", "/").status == 200);
  CHECK(backend.connections() == 2);
}

TEST_CASE("Upgrade: h2c is not forwarded: tally never tunnels HTTP/2 cleartext") {
  scripted_backend* self = nullptr;
  scripted_backend backend([&](raw_peer& peer, std::size_t) {
    auto head = peer.read_head();
    if (!head) return;
    self->record(*head);
    if (lower(*head).find("upgrade: h2c") != std::string::npos)
      peer.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n");
    else
      peer.write(ok_response);
  });
  self = &backend;
  proxy_fixture proxy(one_pool(backend.address(), "    retry: { attempts: 0 }\n"));
  auto raw =
      raw_exchange(proxy.port(),
                   "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
                   "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
  CHECK(status_line(raw) == "HTTP/1.1 200 OK");
  REQUIRE(backend.recorded().size() == 1);
  CHECK(lower(backend.recorded()[0]).find("h2c") == std::string::npos);
  CHECK(lower(backend.recorded()[0]).find("http2-settings") == std::string::npos);
}

TEST_CASE("a backend's early answer to an upload is relayed, not a 502") {
  scripted_backend backend([](raw_peer& peer, std::size_t) {
    if (!peer.read_head()) return;
    // Answers before reading the body, then closes: the unread body makes the close a reset.
    peer.write(
        "HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo "
        "large");
    peer.close();
  });
  proxy_fixture proxy(one_pool(backend.address(), "    retry: { attempts: 0 }\n"));
  http_connection conn(proxy.port(), std::chrono::seconds(20));
  auto r = conn.request("PUT", "/upload", {}, std::string(16 * 1024 * 1024, 'x'));
  CHECK(r.status == 413);
  CHECK(r.body == "too large");
  CHECK(r.closed);
}

namespace {

// A backend that records every request head and answers 200, for tests of what goes upstream.
struct recording_backend {
  recording_backend() : server([this](raw_peer& peer, std::size_t) { serve_ok(server, peer); }) {}
  std::string only_head() {
    auto heads = server.recorded();
    REQUIRE(heads.size() == 1);
    return heads.front();
  }
  scripted_backend server;
};

}  // namespace

TEST_CASE("an absolute-form target: its authority routes the request and replaces Host upstream") {
  recording_backend pub, internal;
  proxy_fixture proxy(proxy_yaml({{"pub", "round_robin", {pub.server.address()}},
                                  {"internal", "round_robin", {internal.server.address()}}},
                                 "workers: 1\n",
                                 "  - { host: public.example, pool: pub }\n"
                                 "  - { host: internal.example, pool: internal }\n"));
  auto raw = raw_exchange(proxy.port(),
                          "GET http://public.example:8080/x?q=%61 HTTP/1.1\r\n"
                          "Host: internal.example\r\nConnection: close\r\n\r\n");
  CHECK(status_line(raw) == "HTTP/1.1 200 OK");
  CHECK(internal.server.recorded().empty());
  const auto head = pub.only_head();
  CHECK(status_line(head) == "GET /x?q=%61 HTTP/1.1");
  CHECK(head.find("\r\nHost: public.example:8080\r\n") != std::string::npos);
  CHECK(head.find("\r\nX-Forwarded-Host: public.example:8080\r\n") != std::string::npos);
  CHECK(head.find("internal.example") == std::string::npos);
}

TEST_CASE("repeated identical Content-Length values go upstream as one") {
  for (const char* fields :
       {"Content-Length: 5\r\nContent-Length: 5\r\n", "Content-Length: 5, 5\r\n"}) {
    CAPTURE(fields);
    recording_backend backend;
    proxy_fixture proxy(one_pool(backend.server.address()));
    auto raw = raw_exchange(proxy.port(), std::string("POST /p HTTP/1.1\r\nHost: a\r\n") + fields +
                                              "Connection: close\r\n\r\nhello");
    CHECK(status_line(raw) == "HTTP/1.1 200 OK");
    const auto head = lower(backend.only_head());
    const auto first = head.find("content-length");
    CHECK(head.find("\r\ncontent-length: 5\r\n") != std::string::npos);
    CHECK(head.find("content-length", first + 1) == std::string::npos);
  }
}

TEST_CASE("routes match the normalised path - and the backend receives it") {
  recording_backend admin, web;
  proxy_fixture proxy(proxy_yaml({{"admin", "round_robin", {admin.server.address()}},
                                  {"web", "round_robin", {web.server.address()}}},
                                 "workers: 1\n",
                                 "  - { path_prefix: /admin, pool: admin }\n"
                                 "  - { path_prefix: /, pool: web }\n"));
  for (const char* target :
       {"/%61dmin", "/api/../admin", "//admin", "/./admin/x/..", "/%2E/admin"}) {
    CAPTURE(target);
    auto r = http_get(proxy.port(), target);
    CHECK(r.status == 200);
  }
  CHECK(web.server.recorded().empty());
  const auto heads = admin.server.recorded();
  REQUIRE(heads.size() == 5);
  for (const auto& head : heads) {
    CAPTURE(head);
    const auto line = status_line(head);
    CHECK((line == "GET /admin HTTP/1.1" || line == "GET /admin/ HTTP/1.1"));
  }
  // The query string goes on verbatim.
  CHECK(http_get(proxy.port(), "/%61dmin?next=/../%61").status == 200);
  CHECK(status_line(admin.server.recorded().back()) == "GET /admin?next=/../%61 HTTP/1.1");
  // Climbing above the root is refused.
  for (const char* target : {"/..", "/a/../../admin", "/%2e%2e/admin"}) {
    CAPTURE(target);
    CHECK(http_get(proxy.port(), target).status == 400);
  }
  CHECK(admin.server.recorded().size() == 6);
}

TEST_CASE("an idle keep-alive connection is closed after timeouts.idle and its session freed") {
  // Between requests a plain connection parks without a coroutine (downstream_session::park):
  // the idle deadline must still close it, and nothing may keep the session alive after.
  backend_set backends(1);
  proxy_fixture proxy(one_pool(backends.address(0), "", "workers: 1\ntimeouts:\n  idle: 300ms\n"));
  const auto connections = [&] {
    auto status = boost::json::parse(http_get(proxy.admin_port(), "/status").body);
    return status.as_object().at("downstream_connections").to_number<std::int64_t>();
  };

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), proxy.port()});
  // A receive timeout bounds every read below: a connection tally never closes fails the test.
  timeval limit{5, 0};
  REQUIRE(::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0);
  boost::asio::write(
      socket, boost::asio::buffer(std::string_view("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")));
  std::string received;
  boost::system::error_code ec;
  char buf[4096];
  while (received.find("\r\n\r\n") == std::string::npos && !ec)
    received.append(buf, socket.read_some(boost::asio::buffer(buf), ec));
  REQUIRE(status_line(received) == "HTTP/1.1 200 OK");
  CHECK(connections() == 1);

  // Nothing more is sent: the next read ends with tally's close (EOF), not with our timeout.
  while (!ec)
    socket.read_some(boost::asio::buffer(buf), ec);
  CHECK(ec == boost::asio::error::eof);
  CHECK(eventually([&] { return connections() == 0; }, 5s));
}
