// tally under exhaustion and overload (issue 11): out of descriptors, an admin flood, a reload
// while draining. The real binary runs with a small RLIMIT_NOFILE (soft and hard, through
// prlimit) and real sockets flood its listeners.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/proxy_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace tally::test;
namespace fs = std::filesystem;

namespace {

// tally logs "listening on 127.0.0.1:PORT (admin 127.0.0.1:PORT, ...)".
std::pair<std::uint16_t, std::uint16_t> ports_from(const std::string& log) {
  std::smatch m;
  std::regex re(R"(listening on [0-9.]+:([0-9]+) \(admin [0-9.]+:([0-9]+))");
  if (!std::regex_search(log, m, re)) return {0, 0};
  return {static_cast<std::uint16_t>(std::stoi(m[1])), static_cast<std::uint16_t>(std::stoi(m[2]))};
}

// Two backends behind a pool with fast active checks: a backend wrongly failed by local errors
// would be DOWN within a few hundred milliseconds.
std::string checked_config(backend_set& b, const std::string& extra = {}) {
  return "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nworkers: 2\n"
         "access_log: { enabled: false }\n" +
         extra + "pools:\n  web:\n    backends:\n      - { address: " + b.address(0) +
         " }\n      - { address: " + b.address(1) +
         " }\n    health_check: { path: /healthz, interval: 100ms, timeout: 100ms, fall: 2 }\n"
         "routes:\n  - { path_prefix: /, pool: web }\n";
}

// CPU time (user + system) the process used so far, from /proc/<pid>/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto rest = all.substr(all.rfind(')') + 2);  // the command name may hold spaces
  std::istringstream fields(rest);
  std::string f;
  unsigned long utime = 0, stime = 0;
  // After the name: state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoul(f);
    if (i == 15) stime = std::stoul(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::size_t open_fds(pid_t pid) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// Takes every free descriptor number up to the highest open one, so that exactly the numbers from
// the returned one on are free: RLIMIT_NOFILE bounds descriptor numbers, not their count.
int fill_descriptor_holes(std::vector<int>& fillers) {
  for (;;) {
    int fd = ::dup(0);
    if (fd < 0) return -1;
    int highest = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc/self/fd", ec);
         !ec && it != fs::directory_iterator(); it.increment(ec))
      highest = std::max(highest, std::stoi(it->path().filename().string()));
    // The listing's own descriptor was the highest or below; `fd` is the lowest free number.
    if (fd >= highest - 1) {
      ::close(fd);
      return fd;
    }
    fillers.push_back(fd);
  }
}

// Idle TCP connections to 127.0.0.1:port, opened without waiting for the server to accept.
class flood {
 public:
  flood(std::uint16_t port, std::size_t count) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);  // EINPROGRESS
      fds_.push_back(fd);
    }
  }
  ~flood() { close(); }
  flood(const flood&) = delete;
  flood& operator=(const flood&) = delete;

  std::size_t size() const { return fds_.size(); }
  void close() {
    for (int fd : fds_)
      ::close(fd);
    fds_.clear();
  }
  // How many of the connections the server has closed (a read sees end of stream or reset).
  std::size_t closed_by_server() const {
    std::size_t n = 0;
    char c;
    for (int fd : fds_) {
      auto r = ::recv(fd, &c, 1, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++n;
    }
    return n;
  }

 private:
  std::vector<int> fds_;
};

// The test opens well over a thousand sockets itself.
void raise_own_fd_limit() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
}

// The value of the first sample of `family` whose labels contain `labels`, or -1.
double metric(const std::string& scrape, const std::string& family, const std::string& labels) {
  std::istringstream in(scrape);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(family + "{", 0) != 0 || line.find(labels) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

}  // namespace

TEST_CASE(
    "256 descriptors and 600 idle connections on each listener: connections beyond the "
    "caps are refused - little CPU - backends stay up - service resumes") {
  raise_own_fd_limit();
  backend_set backends(2);
  temp_dir dir;
  auto cfg = dir.write("tally.yaml", checked_config(backends));
  child_process tally({"prlimit", "--nofile=256:256", TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  REQUIRE(port != 0);
  // limits.max_connections (10000) cannot fit in 256 descriptors: tally says so and caps itself;
  // tally check says so too (and still accepts the file).
  CHECK(tally.output().find("descriptor limit (256)") != std::string::npos);
  auto check = run_command({"prlimit", "--nofile=256:256", TALLY_BINARY, "check", "-c", cfg});
  CHECK(check.exit_code == 0);
  CHECK(check.output.find(cfg + ": warning: the descriptor limit (256)") != std::string::npos);
  REQUIRE(eventually([&] { return http_get(port, "/").status == 200; }));

  flood proxy_flood(port, 600);
  flood admin_flood(admin, 600);
  REQUIRE(proxy_flood.size() == 600);
  REQUIRE(admin_flood.size() == 600);
  // Whatever does not fit is closed at accept; what fits waits for its header deadline.
  REQUIRE(eventually([&] {
    return proxy_flood.closed_by_server() >= 400 && admin_flood.closed_by_server() >= 600 - 64;
  }));
  MESSAGE("tally descriptors during the flood: " << open_fds(tally.pid()) << " of 256");
  CHECK(open_fds(tally.pid()) < 256 - 16);  // headroom left for checks, logs, accepts

  // A resource bound, not a timing assertion: a loop retrying accept at once burns a core.
  const double before = cpu_seconds(tally.pid());
  std::this_thread::sleep_for(3s);  // the measurement window
  const double used = cpu_seconds(tally.pid()) - before;
  MESSAGE("tally CPU during 3 s of flood: " << used << " s");
  CHECK(used < 0.5);
  CHECK(tally.running());
  CHECK(tally.output().find("is DOWN") == std::string::npos);

  proxy_flood.close();
  admin_flood.close();
  CHECK(eventually([&] { return http_get(port, "/").status == 200; }));
  auto scrape = http_get(admin, "/metrics").body;
  CHECK(metric(scrape, "tally_backend_up", backends.address(0)) == 1);
  CHECK(metric(scrape, "tally_backend_up", backends.address(1)) == 1);
  CHECK(tally.output().find("is DOWN") == std::string::npos);
  CHECK(tally.output().find("runtime error") == std::string::npos);  // the sanitizer build
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit(20s) == 0);
}

// The descriptor limit of this test process drops under tally (in-process) while connections
// wait in both backlogs: every accept fails with EMFILE.
TEST_CASE("EMFILE on accept: counted per listener - accepting pauses instead of spinning") {
#ifdef TALLY_SANITIZED
  // UBSan checks a virtual call by writing the vtable into a pipe (IsAccessibleMemoryRange): in a
  // process with no free descriptor every such check fails and reports a false "invalid vptr".
  // Out of descriptors is exactly this test's point, so it runs in the plain build only.
  MESSAGE("skipped under the sanitizers: their runtime needs free descriptors");
  return;
#endif
  backend_set backends(1);
  proxy_fixture tally(proxy_yaml({pool_spec{"web", "round_robin", {backends.address(0)}}}));
  std::vector<int> proxy_socks, admin_socks;
  for (int i = 0; i < 20; ++i) {
    proxy_socks.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    admin_socks.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  }
  std::vector<int> fillers;
  const int first_free = fill_descriptor_holes(fillers);
  REQUIRE(first_free > 0);
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  rlimit none = saved;
  none.rlim_cur = static_cast<rlim_t>(first_free);  // no descriptor left
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &none) == 0);
  auto connect_all = [](const std::vector<int>& socks, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int fd : socks)
      (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);  // no new descriptor
  };
  connect_all(proxy_socks, tally.port());
  connect_all(admin_socks, tally.admin_port());
  rusage r0{}, r1{};
  ::getrusage(RUSAGE_SELF, &r0);
  std::this_thread::sleep_for(1500ms);  // the measurement window
  ::getrusage(RUSAGE_SELF, &r1);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  for (int fd : fillers)
    ::close(fd);
  auto seconds = [](const rusage& r) {
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  };
  const double used = seconds(r1) - seconds(r0);
  MESSAGE("CPU of the test process (tally inside) during 1.5 s out of descriptors: " << used
                                                                                     << " s");
  CHECK(used < 0.3);
  for (int fd : proxy_socks)
    ::close(fd);
  for (int fd : admin_socks)
    ::close(fd);
  auto scrape = http_get(tally.admin_port(), "/metrics").body;
  const double proxy_errors =
      metric(scrape, "tally_accept_errors_total", R"(listener="proxy",reason="emfile")");
  const double admin_errors =
      metric(scrape, "tally_accept_errors_total", R"(listener="admin",reason="emfile")");
  MESSAGE("accept errors in 1.5 s: proxy " << proxy_errors << ", admin " << admin_errors);
  CHECK(proxy_errors > 0);
  CHECK(admin_errors > 0);
  // A paused listener fails about once per pause (50, 100, 200, 400, 800 ms): a spinning one
  // fails millions of times.
  CHECK(proxy_errors < 50);
  CHECK(admin_errors < 50);
  CHECK(eventually([&] { return http_get(tally.port(), "/").status == 200; }));
}

TEST_CASE(
    "admin flood: 64 connections at most - idle ones closed at the header deadline - "
    "the admin API answers once the flood ends") {
  raise_own_fd_limit();
  backend_set backends(2);
  temp_dir dir;
  auto cfg =
      dir.write("tally.yaml", checked_config(backends, "timeouts: { request_header: 1s }\n"));
  child_process tally({TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  REQUIRE(admin != 0);

  flood idle(admin, 200);
  // Beyond the cap connections are closed at once; the first 64 wait for a header.
  CHECK(eventually([&] { return idle.closed_by_server() >= 200 - 64; }, 5s));
  // No header within timeouts.request_header: the rest are closed too.
  CHECK(eventually([&] { return idle.closed_by_server() == 200; }, 10s));
  idle.close();
  CHECK(eventually([&] { return http_get(admin, "/healthz").status == 200; }));
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit(20s) == 0);
}

TEST_CASE("admin: the token is checked before the body is read - bodies over 64 KiB get 413") {
  backend_set backends(2);
  temp_dir dir;
  auto cfg = dir.write("tally.yaml",
                       std::regex_replace(checked_config(backends),
                                          std::regex(R"(admin: \{ listen: 127\.0\.0\.1:0 \})"),
                                          "admin: { listen: 127.0.0.1:0, token: s3cret }"));
  child_process tally({TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  REQUIRE(admin != 0);

  // A declared body that never comes: an answer proves the header alone decided.
  auto unauth =
      raw_exchange(admin, "POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  CHECK(unauth.rfind("HTTP/1.1 401", 0) == 0);
  auto big = raw_exchange(admin,
                          "POST /reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                          "Content-Length: 70000\r\n\r\n");
  CHECK(big.rfind("HTTP/1.1 413", 0) == 0);
  auto ok = http_request(admin, "POST", "/reload", {{"Authorization", "Bearer s3cret"}});
  CHECK(ok.status == 200);
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit(20s) == 0);
}

TEST_CASE("SIGHUP with a new listen while draining: no listener opens - tally exits in time") {
  backend_set backends(2);
  temp_dir dir;
  auto config = [&](const std::string& listen) {
    // No health checks: the backend's request count is then the slow request alone.
    return std::regex_replace(
        std::regex_replace(checked_config(backends, "timeouts: { drain: 3s }\n"),
                           std::regex(R"(    health_check: .*\n)"), ""),
        std::regex(R"(listen: 127\.0\.0\.1:0\nadmin)"), "listen: " + listen + "\nadmin");
  };
  auto cfg = dir.write("tally.yaml", config("127.0.0.1:0"));
  child_process tally({TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  REQUIRE(port != 0);
  // A slow request keeps the drain going.
  child_process curl({"curl", "-sS", "http://127.0.0.1:" + std::to_string(port) + "/delay/2000"});
  REQUIRE(eventually([&] {
    return backends.backend(0).stats().requests.load() +
               backends.backend(1).stats().requests.load() >
           0;
  }));
  tally.send_signal(SIGTERM);
  REQUIRE(tally.wait_for_output("draining"));
  const auto fresh = unused_port();
  dir.write("tally.yaml", config("127.0.0.1:" + std::to_string(fresh)));
  tally.send_signal(SIGHUP);
  // Exits within timeouts.drain (3 s) plus slack for the sanitizer build.
  CHECK(tally.wait_exit(15s) == 0);
  CHECK(tally.output().find("now listening on") == std::string::npos);
  CHECK(http_get(fresh, "/", {}, 1s).status == 0);  // nothing listens there
  CHECK(curl.wait_exit(10s) == 0);
}

TEST_CASE(
    "out of descriptors to reach a backend: 503 with Retry-After - counted as local_error - "
    "not a backend failure") {
#ifdef TALLY_SANITIZED
  MESSAGE("skipped under the sanitizers: their runtime needs free descriptors");
  return;
#endif
  backend_set backends(1);
  pool_spec web{"web", "round_robin", {backends.address(0)}};
  web.extra = "    outlier: { consecutive_failures: 1 }\n";
  // No request before the shortage: a pooled backend connection would need no new descriptor.
  proxy_fixture tally(proxy_yaml({web}));
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::vector<int> fillers;
  const int first_free = fill_descriptor_holes(fillers);
  REQUIRE(first_free > 0);
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  rlimit tight = saved;
  // One descriptor left: tally's accept takes it, its connect to the backend finds none.
  tight.rlim_cur = static_cast<rlim_t>(first_free) + 1;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(tally.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  if (::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)::send(client, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = ::recv(client, buf, sizeof buf, 0)) > 0;)
      answer.append(buf, static_cast<std::size_t>(n));
  }
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  for (int fd : fillers)
    ::close(fd);
  ::close(client);
  CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(answer.find("Retry-After: 1") != std::string::npos);
  CHECK(answer.find("out of file descriptors") != std::string::npos);
  auto scrape = http_get(tally.admin_port(), "/metrics").body;
  CHECK(metric(scrape, "tally_upstream_requests_total", R"(outcome="local_error")") == 1);
  CHECK(metric(scrape, "tally_upstream_requests_total", R"(outcome="connect_failure")") == 0);
  // With consecutive_failures: 1 a backend failure would have ejected the only backend.
  CHECK(http_get(tally.port(), "/").status == 200);
}

TEST_CASE("stdout and stderr a closed pipe: tally keeps serving (SIGPIPE ignored)") {
  backend_set backends(2);
  temp_dir dir;
  const auto port = unused_port();
  const auto admin = unused_port();
  auto yaml = std::regex_replace(
      checked_config(backends),
      std::regex(R"(listen: 127\.0\.0\.1:0\nadmin: \{ listen: 127\.0\.0\.1:0 \})"),
      "listen: 127.0.0.1:" + std::to_string(port) +
          "\nadmin: { listen: 127.0.0.1:" + std::to_string(admin) + " }");
  yaml = std::regex_replace(yaml, std::regex(R"(access_log: \{ enabled: false \})"),
                            "access_log: { enabled: true, path: \"-\" }");
  auto cfg = dir.write("tally.yaml", yaml);
  // `true` exits at once: every log line and access log line meets a closed pipe.
  child_process sh({"sh", "-c", "\"$0\" serve -c \"$1\" 2>&1 | true", TALLY_BINARY, cfg});
  REQUIRE(eventually([&] { return http_get(port, "/", {}, 1s).status == 200; }));
  // A reload logs; requests write access log lines.
  CHECK(http_request(admin, "POST", "/reload").status == 200);
  for (int i = 0; i < 5; ++i)
    CHECK(http_get(port, "/").status == 200);
  CHECK(http_get(admin, "/healthz").status == 200);
}

TEST_CASE("an access log on a full disk: requests are still served") {
  backend_set backends(2);
  temp_dir dir;
  auto yaml = std::regex_replace(checked_config(backends),
                                 std::regex(R"(access_log: \{ enabled: false \})"),
                                 "access_log: { enabled: true, path: /dev/full }");
  auto cfg = dir.write("tally.yaml", yaml);
  child_process tally({TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  REQUIRE(port != 0);
  for (int i = 0; i < 20; ++i)
    CHECK(http_get(port, "/").status == 200);
  tally.send_signal(SIGTERM);  // the final flush meets ENOSPC too
  CHECK(tally.wait_exit(20s) == 0);
}
