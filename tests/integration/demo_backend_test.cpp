// The demo backend, seen through the test HTTP client: the fixture every end-to-end test uses.
#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

using namespace tally::test;
using tally::proxy::demo_backend;

namespace {

bool matches_pattern(const std::string& body) {
  for (std::size_t i = 0; i < body.size(); ++i)
    if (body[i] != demo_backend::pattern_byte(i)) return false;
  return true;
}

}  // namespace

TEST_CASE("demo backend answers with its name") {
  backend_set backends(2);
  auto first = http_get(backends.port(0), "/");
  REQUIRE(first.ok());
  CHECK(first.status == 200);
  CHECK(first.body == "b1\n");
  CHECK(first.header("x-backend") == "b1");
  CHECK(http_get(backends.port(1), "/anything/else").body == "b2\n");
  CHECK(backends.backend(1).name() == "b2");
}

TEST_CASE("demo backend health can be toggled") {
  backend_set backends(1);
  CHECK(http_get(backends.port(0), "/healthz").status == 200);
  backends.backend(0).set_healthy(false);
  CHECK(http_get(backends.port(0), "/healthz").status == 503);
  backends.backend(0).set_healthy(true);
  CHECK(http_get(backends.port(0), "/healthz").body == "ok\n");
}

TEST_CASE("demo backend streams the byte pattern") {
  backend_set backends(1);
  SUBCASE("with Content-Length") {
    const std::size_t size = 3 * 64 * 1024 + 123;
    auto result = http_get(backends.port(0), "/bytes/" + std::to_string(size));
    REQUIRE(result.ok());
    CHECK(result.header("content-length") == std::to_string(size));
    CHECK(result.body.size() == size);
    CHECK(matches_pattern(result.body));
  }
  SUBCASE("chunked") {
    auto result = http_get(backends.port(0), "/bytes/200000?chunked=1");
    REQUIRE(result.ok());
    CHECK(result.header("transfer-encoding") == "chunked");
    CHECK(result.header("content-length").empty());
    CHECK(result.body.size() == 200000);
    CHECK(matches_pattern(result.body));
  }
  SUBCASE("empty") {
    auto result = http_get(backends.port(0), "/bytes/0");
    CHECK(result.status == 200);
    CHECK(result.body.empty());
  }
}

TEST_CASE("demo backend sinks a large body and reports count and hash") {
  backend_set backends(1);
  std::string body(5 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>(i * 7 + i / 1000);
  const auto hash = demo_backend::fnv1a(demo_backend::fnv1a_initial, body.data(), body.size());
  char expected[80];
  std::snprintf(expected, sizeof expected, "bytes=%zu fnv=%016llx\n", body.size(),
                static_cast<unsigned long long>(hash));

  SUBCASE("Content-Length") {
    auto result = http_request(backends.port(0), "POST", "/sink", {}, body);
    REQUIRE(result.ok());
    CHECK(result.body == expected);
  }
  SUBCASE("chunked") {
    auto result =
        http_request(backends.port(0), "PUT", "/sink", {{"Transfer-Encoding", "chunked"}}, body);
    REQUIRE(result.ok());
    CHECK(result.body == expected);
  }
  SUBCASE("empty") {
    auto result = http_request(backends.port(0), "POST", "/sink");
    CHECK(result.body == "bytes=0 fnv=cbf29ce484222325\n");
  }
}

TEST_CASE("demo backend echoes request headers") {
  backend_set backends(1);
  auto result = http_get(backends.port(0), "/headers", {{"X-Forwarded-For", "10.0.0.1"}});
  REQUIRE(result.ok());
  CHECK(result.body.find("X-Forwarded-For: 10.0.0.1\n") != std::string::npos);
  CHECK(result.body.find("Host: 127.0.0.1:") != std::string::npos);

  const auto seen = backends.backend(0).last_request_headers();
  bool found = false;
  for (const auto& [name, value] : seen)
    found = found || (name == "X-Forwarded-For" && value == "10.0.0.1");
  CHECK(found);
}

TEST_CASE("demo backend keeps connections alive") {
  backend_set backends(1);
  http_connection connection(backends.port(0));
  for (int i = 0; i < 10; ++i) {
    auto result = connection.request("GET", "/");
    REQUIRE(result.ok());
    CHECK_FALSE(result.closed);
  }
  CHECK(backends.backend(0).stats().connections == 1);
  CHECK(backends.backend(0).stats().requests == 10);

  auto closing = connection.request("GET", "/close");
  CHECK(closing.status == 200);
  CHECK(closing.closed);
  CHECK(connection.request("GET", "/").ok());  // reconnects
  CHECK(backends.backend(0).stats().connections == 2);
}

TEST_CASE("demo backend answers HEAD without a body") {
  backend_set backends(1);
  http_connection connection(backends.port(0));
  auto head = connection.request("HEAD", "/bytes/1000");
  REQUIRE(head.ok());
  CHECK(head.header("content-length") == "1000");
  CHECK(head.body.empty());
  // The connection is still in sync: the next response is read cleanly.
  auto next = connection.request("HEAD", "/");
  CHECK(next.header("content-length") == "3");
  CHECK(connection.request("GET", "/").body == "b1\n");
  CHECK(backends.backend(0).stats().connections == 1);
}

TEST_CASE("demo backend speaks HTTP/1.0") {
  backend_set backends(1);
  http_connection connection(backends.port(0));
  connection.set_http_version(10);
  auto plain = connection.request("GET", "/bytes/10?chunked=1");
  REQUIRE(plain.ok());
  CHECK(plain.closed);  // 1.0 without keep-alive closes
  CHECK(plain.body.size() == 10);
  CHECK(plain.header("transfer-encoding").empty());

  auto kept = connection.request("GET", "/", {{"Connection", "keep-alive"}});
  REQUIRE(kept.ok());
  CHECK_FALSE(kept.closed);
  CHECK(connection.request("GET", "/", {{"Connection", "keep-alive"}}).ok());
  CHECK(backends.backend(0).stats().connections == 2);

  const auto raw = raw_exchange(backends.port(0), "GET / HTTP/1.0\r\n\r\n");
  CHECK(raw.starts_with("HTTP/1.0 200 OK\r\n"));
  CHECK(raw.ends_with("\r\n\r\nb1\n"));
}

TEST_CASE("demo backend delays and answers any status") {
  backend_set backends(1);
  const auto start = std::chrono::steady_clock::now();
  auto delayed = http_get(backends.port(0), "/delay/200");
  CHECK(delayed.body == "b1\n");
  CHECK(std::chrono::steady_clock::now() - start >= 200ms);

  auto slow = http_get(backends.port(0), "/delay/5000", {}, 300ms);
  CHECK_FALSE(slow.ok());
  CHECK(slow.error.find("timeout") != std::string::npos);

  CHECK(http_get(backends.port(0), "/status/503").status == 503);
  auto no_content = http_get(backends.port(0), "/status/204");
  CHECK(no_content.status == 204);
  CHECK(no_content.body.empty());
}

TEST_CASE("demo backend stops and refuses new connections") {
  backend_set backends(1);
  http_connection connection(backends.port(0));
  REQUIRE(connection.request("GET", "/").ok());
  backends.backend(0).stop();
  // Closing is posted to the backend's thread; the open connection sees it shortly.
  auto after = connection.request("GET", "/", {}, {});
  CHECK_FALSE(after.ok());
  CHECK_FALSE(http_get(backends.port(0), "/", {}, 1s).ok());
}

TEST_CASE("child_process captures output and exit codes") {
  {
    child_process echo({"/bin/echo", "hi"});
    CHECK(echo.wait_for_output("hi\n", 5s));
    CHECK(echo.wait_exit(5s) == 0);
  }
  auto result = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 5s);
  CHECK(result.exit_code == 3);
  CHECK(result.output.find("out\n") != std::string::npos);
  CHECK(result.output.find("err\n") != std::string::npos);

  child_process sleeper({"/bin/sleep", "30"});
  CHECK_FALSE(sleeper.wait_exit(100ms).has_value());
  sleeper.send_signal(SIGTERM);
  CHECK(sleeper.wait_exit(5s) == 128 + SIGTERM);
}
