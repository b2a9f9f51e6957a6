// TLS on client listeners and to backends (issue 14): certificates made at test time with the
// openssl command, real clients (tally's test TLS client, curl, openssl s_client) and a real TLS
// backend, all on 127.0.0.1.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/proxy_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_support.hpp"
#include "support/wait.hpp"
#include "tally/proxy/demo_backend.hpp"

using namespace tally::test;
using namespace std::chrono_literals;
using tally::proxy::demo_backend;

namespace {

// Three certificates: the first is the listener's default.
struct site_certificates {
  temp_dir dir;
  certificate_files fallback = make_certificate(dir, "default", "default.test", "DNS:default.test");
  certificate_files a = make_certificate(dir, "a", "a.example.com", "DNS:a.example.com");
  certificate_files b = make_certificate(dir, "b", "b.example.com", "DNS:*.b.example.com");
};

std::string certificate_line(const certificate_files& c) {
  return "        - { cert: " + c.cert + ", key: " + c.key + " }\n";
}

// A plain listener and a TLS listener (in that order) in front of `pools`.
std::string tls_yaml(const std::vector<pool_spec>& pools,
                     const std::vector<certificate_files>& certificates,
                     const std::string& top_extra = "", const std::string& tls_extra = "") {
  std::string listen = "listen:\n  - 127.0.0.1:0\n  - address: 127.0.0.1:0\n    tls:\n" +
                       tls_extra + "      certificates:\n";
  for (const auto& c : certificates)
    listen += certificate_line(c);
  auto yaml = proxy_yaml(pools, top_extra);
  const std::string plain = "listen: 127.0.0.1:0\n";
  REQUIRE(yaml.rfind(plain, 0) == 0);
  return listen + yaml.substr(plain.size());
}

std::uint16_t tls_port(proxy_fixture& proxy) {
  const auto ports = proxy.app().proxy_ports();
  REQUIRE(ports.size() == 2);
  return ports[1];
}

std::string scrape(proxy_fixture& proxy) {
  return http_get(proxy.admin_port(), "/metrics").body;
}

double handshakes(proxy_fixture& proxy, const std::string& result) {
  return sample_value(scrape(proxy), "tally_tls_handshakes_total", {"result=\"" + result + "\""});
}

// A raw TCP connection with a receive timeout: what a client that does not speak TLS sees.
struct raw_connection {
  explicit raw_connection(std::uint16_t port) : socket(ioc) {
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    timeval tv{10, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  // Reads until the peer closes (true) or the 10 s receive timeout passes (false).
  bool read_until_closed(std::string& got) {
    char buf[4096];
    for (;;) {
      const auto n = ::recv(socket.native_handle(), buf, sizeof buf, 0);
      if (n > 0) {
        got.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
  }
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket;
};

// A TLS origin with a fresh self-signed certificate for `cn` (SANs `san`) and a pool in front of
// it; a test adds the pool's tls keys to `pool.extra`.
struct tls_origin {
  explicit tls_origin(const std::string& cn = "backend.internal",
                      const std::string& san = "DNS:backend.internal")
      : cert(make_certificate(dir, "backend", cn, san)), backend(cert) {}
  temp_dir dir;
  certificate_files cert;
  tls_backend backend;
  pool_spec pool{"web", "round_robin", {backend.address()}};
};

constexpr const char* simple_get =
    "GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n";

}  // namespace

TEST_CASE("tls listener: the certificate is chosen by SNI; the first answers other names") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(
      tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.fallback, site.a, site.b}));
  const auto port = tls_port(proxy);

  SUBCASE("an exact name") {
    auto r = tls_exchange(port, "a.example.com", site.a.cert, simple_get);
    INFO(r.error);
    REQUIRE(r.handshake);
    CHECK(r.subject_cn == "a.example.com");
    CHECK(r.response.rfind("HTTP/1.1 200", 0) == 0);
  }
  SUBCASE("a wildcard, any case") {
    auto r = tls_exchange(port, "API.b.example.com", site.b.cert, simple_get);
    INFO(r.error);
    REQUIRE(r.handshake);
    CHECK(r.subject_cn == "b.example.com");
  }
  SUBCASE("a wildcard covers one label only") {
    auto r = tls_exchange(port, "x.y.b.example.com", "", simple_get);
    REQUIRE(r.handshake);
    CHECK(r.subject_cn == "default.test");
  }
  SUBCASE("an unknown name gets the default") {
    auto r = tls_exchange(port, "unknown.test", "", simple_get);
    REQUIRE(r.handshake);
    CHECK(r.subject_cn == "default.test");
  }
  SUBCASE("no SNI gets the default") {
    auto r = tls_exchange(port, "", site.fallback.cert, simple_get);
    INFO(r.error);
    REQUIRE(r.handshake);
    CHECK(r.subject_cn == "default.test");
    CHECK(r.response.rfind("HTTP/1.1 200", 0) == 0);
  }
  CHECK(handshakes(proxy, "success") >= 1);
}

TEST_CASE("tls listener: keep-alive, X-Forwarded-Proto https, and the plain listener beside it") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a}));
  const auto port = tls_port(proxy);
  // Three requests on one TLS connection: pipelined, the last one closes.
  auto r = tls_exchange(
      port, "a.example.com", site.a.cert,
      "GET /headers HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
      "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
      "GET /bytes/100000 HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n");
  INFO(r.error);
  REQUIRE(r.handshake);
  std::size_t responses = 0;
  for (auto at = r.response.find("HTTP/1.1 200"); at != std::string::npos;
       at = r.response.find("HTTP/1.1 200", at + 1))
    ++responses;
  CHECK(responses == 3);
  CHECK(r.response.find("X-Forwarded-Proto: https\n") != std::string::npos);
  CHECK(handshakes(proxy, "success") == 1);
  CHECK(backends.backend(0).stats().requests.load() == 3);

  auto plain = http_get(proxy.app().proxy_ports()[0], "/headers");
  CHECK(plain.status == 200);
  CHECK(plain.body.find("X-Forwarded-Proto: http\n") != std::string::npos);
}

TEST_CASE("tls listener: a 64 MiB upload and download are byte-exact (curl)") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a}));
  const auto base = "https://a.example.com:" + std::to_string(tls_port(proxy));
  const auto resolve = "a.example.com:" + std::to_string(tls_port(proxy)) + ":127.0.0.1";
  constexpr std::size_t size = 64u << 20;

  SUBCASE("download") {
    const auto file = (site.dir.path() / "down.bin").string();
    auto r =
        run_command({"curl", "-sS", "--fail", "--max-time", "120", "--cacert", site.a.cert,
                     "--resolve", resolve, "-o", file, base + "/bytes/" + std::to_string(size)},
                    130s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::ifstream in(file, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(got.size() == size);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      wrong += got[i] != demo_backend::pattern_byte(i);
    CHECK(wrong == 0);
  }
  SUBCASE("upload") {
    std::string body(size, '\0');
    for (std::size_t i = 0; i < body.size(); ++i)
      body[i] = static_cast<char>(i * 7 + i / 1000);
    const auto file = site.dir.write("up.bin", body);
    char expected[80];
    std::snprintf(expected, sizeof expected, "bytes=%zu fnv=%016llx\n", body.size(),
                  static_cast<unsigned long long>(
                      demo_backend::fnv1a(demo_backend::fnv1a_initial, body.data(), body.size())));
    auto r = run_command({"curl", "-sS", "--fail", "--max-time", "120", "--cacert", site.a.cert,
                          "--resolve", resolve, "--data-binary", "@" + file, base + "/sink"},
                         130s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output == expected);
  }
}

TEST_CASE("tls listener: TLS 1.1 is refused by tally, not only by the client") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a}));
  // SECLEVEL=0 lets Debian's openssl offer TLS 1.1 at all; tally must still say no.
  auto r = run_command(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(tls_port(proxy)), "-tls1_1",
       "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "a.example.com"},
      20s);
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("alert protocol version") != std::string::npos);
  CHECK(handshakes(proxy, "failure") == 1);
  CHECK(handshakes(proxy, "success") == 0);
}

TEST_CASE("tls listener: min_version 1.3 refuses a TLS 1.2 client") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a}, "",
                               "      min_version: \"1.3\"\n"));
  const auto target = "127.0.0.1:" + std::to_string(tls_port(proxy));
  auto old = run_command({"openssl", "s_client", "-connect", target, "-tls1_2"}, 20s);
  CHECK(old.exit_code != 0);
  auto ok = tls_exchange(tls_port(proxy), "a.example.com", site.a.cert, simple_get);
  CHECK(ok.handshake);
}

TEST_CASE("tls listener: plain HTTP instead of a ClientHello is closed without harm") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a}));
  raw_connection raw(tls_port(proxy));
  const std::string request = "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n";
  boost::asio::write(raw.socket, boost::asio::buffer(request));
  std::string got;
  CHECK(raw.read_until_closed(got));
  CHECK(got.find("HTTP/1.1") == std::string::npos);
  CHECK(backends.backend(0).stats().requests.load() == 0);
  // The listener goes on serving.
  auto r = tls_exchange(tls_port(proxy), "a.example.com", site.a.cert, simple_get);
  CHECK(r.response.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(handshakes(proxy, "failure") == 1);
}

TEST_CASE("tls listener: a client that connects and says nothing is closed (request_header)") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a},
                               "timeouts: { request_header: 300ms }\n"));
  raw_connection raw(tls_port(proxy));
  std::string got;
  CHECK(raw.read_until_closed(got));  // closed by tally long before the 10 s receive timeout
  CHECK(got.empty());
  CHECK(eventually([&] { return handshakes(proxy, "failure") == 1; }, 5s));
}

TEST_CASE("tls listener: smuggling is refused over TLS as over plain HTTP") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a}));
  auto r = tls_exchange(tls_port(proxy), "a.example.com", site.a.cert,
                        "POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n"
                        "Host: a.example.com\r\n\r\n");
  INFO(r.error);
  REQUIRE(r.handshake);
  CHECK(r.response.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(r.response.find("HTTP/1.1 200") == std::string::npos);
  CHECK(backends.backend(0).stats().requests.load() == 0);
}

TEST_CASE("tls listener: a certificate reload under load fails no request") {
  backend_set backends(1);
  site_certificates site;
  auto renewed = make_certificate(site.dir, "a2", "a-renewed.example.com", "DNS:a.example.com");
  const auto config_file = (site.dir.path() / "tally.yaml").string();
  const std::vector<pool_spec> pools{{"web", "round_robin", {backends.address(0)}}};
  proxy_fixture proxy(tls_yaml(pools, {site.a}), config_file);
  const auto port = tls_port(proxy);
  const auto ports_before = proxy.app().proxy_ports();

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c)
    clients.emplace_back([&] {
      while (!stop.load()) {
        // No CA file: the certificate changes under the client's feet on purpose.
        auto r = tls_exchange(port, "a.example.com", "", simple_get, 10s);
        if (r.response.rfind("HTTP/1.1 200", 0) == 0) {
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(failures_mutex);
          failures.push_back(r.error);
        }
      }
    });
  REQUIRE(eventually([&] { return ok.load() >= 20; }, 30s));
  // The new file: the same listener, a renewed certificate.
  std::ofstream(config_file) << tls_yaml(pools, {renewed});
  CHECK(proxy.app().reload().empty());
  const int at_reload = ok.load();
  CHECK(eventually([&] { return ok.load() >= at_reload + 20; }, 30s));
  stop = true;
  for (auto& t : clients)
    t.join();
  INFO((failures.empty() ? std::string() : failures.front()));
  CHECK(failed.load() == 0);
  CHECK(proxy.app().proxy_ports() == ports_before);  // the sockets were kept
  auto after = tls_exchange(port, "a.example.com", renewed.cert, simple_get);
  INFO(after.error);
  CHECK(after.subject_cn == "a-renewed.example.com");

  SUBCASE("a reload with a bad certificate keeps the old one") {
    std::ofstream(renewed.cert) << "not a certificate\n";
    std::ofstream(config_file) << tls_yaml(pools, {renewed});
    CHECK_FALSE(proxy.app().reload().empty());
    auto still = tls_exchange(port, "a.example.com", "", simple_get);
    CHECK(still.subject_cn == "a-renewed.example.com");
    CHECK(still.response.rfind("HTTP/1.1 200", 0) == 0);
  }
}

TEST_CASE("upstream tls: verified against ca_file, with SNI; health checks speak TLS too") {
  tls_origin origin;
  auto& pool = origin.pool;
  auto& backend = origin.backend;
  const auto& backend_cert = origin.cert;
  pool.extra =
      "    tls: { ca_file: " + backend_cert.cert +
      ", sni: backend.internal }\n"
      "    health_check: { path: /healthz, interval: 100ms, timeout: 100ms, rise: 1, fall: 1 }\n";
  proxy_fixture proxy(proxy_yaml({pool}));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "tls-backend sni=backend.internal\n");
  // A second request reuses the pooled TLS connection.
  auto again = http_get(proxy.port(), "/");
  CHECK(again.status == 200);
  // Health checks handshake with the same name.
  CHECK(eventually([&] { return backend.handshakes() >= 3; }, 10s));
  for (const auto& name : backend.server_names())
    CHECK(name == "backend.internal");
  CHECK(sample_value(scrape(proxy), "tally_health_checks_total", {"result=\"success\""}) >= 1);
}

TEST_CASE("upstream tls: a new connection to a backend resumes the session of the last one") {
  tls_origin origin;
  origin.pool.extra = "    tls: { ca_file: " + origin.cert.cert + ", sni: backend.internal }\n";
  origin.backend.close_after_each_response();  // every request needs a new connection
  proxy_fixture proxy(proxy_yaml({origin.pool}));
  for (int i = 0; i < 4; ++i) {
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 200);
  }
  CHECK(origin.backend.handshakes() == 4);
  // The first is a full handshake; the others resume with the ticket the backend gave (a full
  // handshake costs the backend and tally an ECDHE and a signature each).
  CHECK(origin.backend.resumed() == 3);
}

TEST_CASE(
    "upstream tls: health checks resume the backend's session instead of a full handshake "
    "each") {
  tls_origin origin;
  origin.pool.extra =
      "    tls: { ca_file: " + origin.cert.cert +
      ", sni: backend.internal }\n"
      "    health_check: { path: /healthz, interval: 200ms, timeout: 200ms, rise: 1, fall: 1 }\n";
  proxy_fixture proxy(proxy_yaml({origin.pool}));
  // Every probe is a new connection, and resumes the session of the one before. (No ratio is
  // asserted: a probe that times out on a loaded machine forgets the session, and the next one
  // makes a full handshake.)
  CHECK(eventually([&] { return origin.backend.resumed() >= 3; }, 10s));
}

TEST_CASE("upstream tls: an IP address is verified as an IP and sends no SNI") {
  tls_origin origin("127.0.0.1", "IP:127.0.0.1");
  auto& pool = origin.pool;
  const auto& backend_cert = origin.cert;
  pool.extra = "    tls: { ca_file: " + backend_cert.cert + " }\n";
  proxy_fixture proxy(proxy_yaml({pool}));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "tls-backend sni=-\n");
}

TEST_CASE("upstream tls: a certificate that does not verify is a 502, logged and counted") {
  tls_origin origin;
  auto& pool = origin.pool;
  const auto& backend_cert = origin.cert;
  auto stranger =
      make_certificate(origin.dir, "stranger", "stranger.internal", "DNS:stranger.internal");

  SUBCASE("unknown CA") {
    pool.extra = "    tls: { ca_file: " + stranger.cert + ", sni: backend.internal }\n";
  }
  SUBCASE("wrong name") {
    pool.extra = "    tls: { ca_file: " + backend_cert.cert + ", sni: other.internal }\n";
  }
  pool.extra += "    retry: { attempts: 0 }\n";
  proxy_fixture proxy(proxy_yaml({pool}));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 502);
  CHECK(r.body.find("TLS handshake with the backend failed") != std::string::npos);
  CHECK(sample_value(scrape(proxy), "tally_upstream_requests_total", {"outcome=\"tls_error\""}) ==
        1);
}

TEST_CASE("upstream tls: verify false accepts any certificate") {
  tls_origin origin;
  auto& pool = origin.pool;
  pool.extra = "    tls: { verify: false }\n";
  proxy_fixture proxy(proxy_yaml({pool}));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  CHECK(r.body == "tls-backend sni=-\n");
}

TEST_CASE("upstream tls: health checks mark a backend whose certificate fails down") {
  tls_origin origin;
  auto& pool = origin.pool;
  auto stranger =
      make_certificate(origin.dir, "stranger", "stranger.internal", "DNS:stranger.internal");
  pool.extra =
      "    tls: { ca_file: " + stranger.cert +
      ", sni: backend.internal }\n"
      "    health_check: { path: /healthz, interval: 100ms, timeout: 100ms, rise: 1, fall: 1 }\n";
  proxy_fixture proxy(proxy_yaml({pool}));
  CHECK(eventually(
      [&] {
        return sample_value(scrape(proxy), "tally_health_checks_total", {"result=\"failure\""}) >=
                   1 &&
               sample_value(scrape(proxy), "tally_backend_up", {"pool=\"web\""}) == 0;
      },
      10s));
}

TEST_CASE("admin tls: the admin API over HTTPS; plain HTTP to it gets nothing") {
  backend_set backends(1);
  temp_dir dir;
  auto admin_cert = make_certificate(dir, "admin", "admin.internal", "DNS:admin.internal");
  proxy_fixture proxy(proxy_yaml({{"web", "round_robin", {backends.address(0)}}},
                                 "admin: { listen: 127.0.0.1:0, tls: { cert: " + admin_cert.cert +
                                     ", key: " + admin_cert.key + " } }\n"));
  auto r =
      tls_exchange(proxy.admin_port(), "admin.internal", admin_cert.cert,
                   "GET /metrics HTTP/1.1\r\nHost: admin.internal\r\nConnection: close\r\n\r\n");
  INFO(r.error);
  REQUIRE(r.handshake);
  CHECK(r.response.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(sample_value(r.response, "tally_tls_handshakes_total",
                     {"listener=\"admin\"", "result=\"success\""}) == 1);
  raw_connection raw(proxy.admin_port());
  boost::asio::write(raw.socket,
                     boost::asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string got;
  CHECK(raw.read_until_closed(got));
  CHECK(got.find("HTTP/1.1 200") == std::string::npos);
}

TEST_CASE("tls listener: a returning client resumes its session (ticket)") {
  backend_set backends(1);
  site_certificates site;
  proxy_fixture proxy(tls_yaml({{"web", "round_robin", {backends.address(0)}}}, {site.a}));
  tls_session session;
  auto first =
      tls_exchange(tls_port(proxy), "a.example.com", site.a.cert, simple_get, 10s, &session);
  INFO(first.error);
  REQUIRE(first.handshake);
  CHECK_FALSE(first.resumed);
  REQUIRE(session);
  const auto first_ticket = session;
  auto second =
      tls_exchange(tls_port(proxy), "a.example.com", site.a.cert, simple_get, 10s, &session);
  INFO(second.error);
  CHECK(second.resumed);
  CHECK(second.response.rfind("HTTP/1.1 200", 0) == 0);
  // A resumed connection gets a fresh ticket (TLS 1.3 clients use each once), and it works.
  CHECK(session != first_ticket);
  const auto used = session;
  auto third =
      tls_exchange(tls_port(proxy), "a.example.com", site.a.cert, simple_get, 10s, &session);
  INFO(third.error);
  CHECK(third.resumed);
  CHECK(session != used);
}

TEST_CASE("upstream tls: a client certificate for backends that ask for one (mTLS)") {
  temp_dir dir;
  auto backend_cert = make_certificate(dir, "backend", "backend.internal", "DNS:backend.internal");
  auto client_cert = make_certificate(dir, "client", "tally.internal", "DNS:tally.internal");
  tls_backend backend(backend_cert, client_cert.cert);
  pool_spec pool{"web", "round_robin", {backend.address()}};
  const std::string tls = "    tls: { ca_file: " + backend_cert.cert + ", sni: backend.internal";
  SUBCASE("with the certificate") {
    pool.extra = tls + ", cert: " + client_cert.cert + ", key: " + client_cert.key + " }\n";
    proxy_fixture proxy(proxy_yaml({pool}));
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 200);
    CHECK(r.body == "tls-backend sni=backend.internal\n");
  }
  SUBCASE("without it the backend refuses: 502") {
    pool.extra = tls + " }\n    retry: { attempts: 0 }\n";
    proxy_fixture proxy(proxy_yaml({pool}));
    auto r = http_get(proxy.port(), "/");
    CHECK(r.status == 502);
  }
}
