// The tally executable as an operator runs it: check, serve, signals, memory on a huge download.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/running_tally.hpp"
#include "support/temp_dir.hpp"

using namespace tally::test;
namespace fs = std::filesystem;

namespace {

std::string serve_config(const std::string& backend) {
  return "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nworkers: 1\n"
         "access_log: { enabled: false }\n"
         "pools:\n  web:\n    backends:\n      - { address: " +
         backend + " }\nroutes:\n  - { path_prefix: /, pool: web }\n";
}

long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

TEST_CASE("tally --version and --help") {
  auto v = run_command({TALLY_BINARY, "--version"});
  CHECK(v.exit_code == 0);
  CHECK(v.output.rfind("tally ", 0) == 0);
  auto h = run_command({TALLY_BINARY, "--help"});
  CHECK(h.exit_code == 0);
  CHECK(h.output.find("tally check [-c FILE]") != std::string::npos);
  auto bad = run_command({TALLY_BINARY, "frobnicate"});
  CHECK(bad.exit_code == 2);
}

TEST_CASE("tally --version names the commit, compiler, Boost and OpenSSL") {
  auto v = run_command({TALLY_BINARY, "--version"});
  REQUIRE(v.exit_code == 0);
  CHECK(v.output.find("\ncommit: ") != std::string::npos);
  CHECK(v.output.find("\ncompiler: ") != std::string::npos);
  CHECK(v.output.find("\nboost: 1.") != std::string::npos);
  CHECK(v.output.find("\nopenssl: OpenSSL ") != std::string::npos);
}

TEST_CASE("an unknown option is an error with the usage, exit 2") {
  temp_dir dir;
  auto good = dir.write("good.yaml", serve_config("127.0.0.1:9"));
  for (const char* cmd : {"serve", "check"}) {
    auto r = run_command({TALLY_BINARY, cmd, "-c", good, "--frobnicate"});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("unknown option \"--frobnicate\"") != std::string::npos);
    CHECK(r.output.find("Usage:") != std::string::npos);
  }
  auto missing_file = run_command({TALLY_BINARY, "check", "-c"});
  CHECK(missing_file.exit_code == 2);
  CHECK(missing_file.output.find("-c needs a FILE") != std::string::npos);
  auto demo = run_command({TALLY_BINARY, "demo", "--port=1"});
  CHECK(demo.exit_code == 2);
}

TEST_CASE("tally check without -c reads /etc/tally/tally.yaml") {
  // Whatever the machine has there, the message names the default path.
  auto r = run_command({TALLY_BINARY, "check"});
  CHECK(r.output.find("/etc/tally/tally.yaml") != std::string::npos);
}

TEST_CASE("tally check: exit 0 on a valid file - FILE:LINE:COL and exit 1 on an invalid one") {
  temp_dir dir;
  auto good = dir.write("good.yaml", serve_config("127.0.0.1:9"));
  auto ok = run_command({TALLY_BINARY, "check", "-c", good});
  CHECK(ok.exit_code == 0);

  auto bad = dir.write("bad.yaml",
                       "listen: 127.0.0.1:8080\n"
                       "timeouts: { connect: 10x }\n"
                       "pools:\n  web:\n    backends:\n      - { address: 127.0.0.1:9001 }\n"
                       "routes:\n  - { path_prefix: /, pool: nope }\n");
  auto r = run_command({TALLY_BINARY, "check", "-c", bad});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(bad + ":2:22: ") != std::string::npos);
  CHECK(r.output.find(bad + ":8:29: ") != std::string::npos);

  auto missing = run_command({TALLY_BINARY, "check", "-c", (dir.path() / "nope.yaml").string()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.output.find("cannot read") != std::string::npos);
}

TEST_CASE("tally serve refuses to start on an invalid file") {
  temp_dir dir;
  auto bad = dir.write("bad.yaml", "listen: nonsense\n");
  auto r = run_command({TALLY_BINARY, "serve", "-c", bad});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(bad + ":1:") != std::string::npos);
}

TEST_CASE("a 1 GiB download streams through tally with resident memory under 64 MiB") {
  backend_set backends(1);
  temp_dir dir;
  auto cfg = dir.write("tally.yaml", serve_config(backends.address(0)));
  child_process tally({TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  REQUIRE(port != 0);
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/bytes/1073741824";
  auto r =
      run_command({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url},
                  std::chrono::seconds(120));
  CHECK(r.exit_code == 0);
  CHECK(r.output == "200 1073741824");
  long rss = peak_rss_kib(tally.pid());
  MESSAGE("tally peak RSS after a 1 GiB download: " << rss << " KiB");
  CHECK(rss > 0);
#ifndef TALLY_SANITIZED
  CHECK(rss < 64 * 1024);
#else
  CHECK(rss <
        512 * 1024);  // ASan's shadow memory and quarantine dominate; the bound is for release
#endif
  tally.send_signal(SIGTERM);
  CHECK(tally.wait_exit(std::chrono::seconds(20)) == 0);
}

TEST_CASE("SIGTERM lets a slow request in flight finish - then tally exits 0") {
  backend_set backends(1);
  temp_dir dir;
  auto cfg = dir.write("tally.yaml", serve_config(backends.address(0)));
  child_process tally({TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  REQUIRE(port != 0);
  child_process curl({"curl", "-sS", "http://127.0.0.1:" + std::to_string(port) + "/delay/1500"});
  // Wait until the request is at the backend, then ask tally to stop.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (backends.backend(0).stats().requests.load() == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  REQUIRE(backends.backend(0).stats().requests.load() == 1);
  tally.send_signal(SIGTERM);
  CHECK(curl.wait_exit(std::chrono::seconds(10)) == 0);
  CHECK(curl.wait_for_output_end());
  CHECK(curl.output() == "b1\n");
  CHECK(tally.wait_exit(std::chrono::seconds(10)) == 0);
  CHECK(tally.output().find("draining") != std::string::npos);
}

TEST_CASE("SIGHUP reloads the file: a new backend gets traffic - an invalid file keeps serving") {
  backend_set backends(2);
  temp_dir dir;
  auto cfg = dir.write("tally.yaml", serve_config(backends.address(0)));
  child_process tally({TALLY_BINARY, "serve", "-c", cfg});
  REQUIRE(tally.wait_for_output("listening on"));
  auto [port, admin] = ports_from(tally.output());
  CHECK(http_get(port, "/").header("X-Backend") == "b1");

  dir.write("tally.yaml", serve_config(backends.address(1)));
  tally.send_signal(SIGHUP);
  REQUIRE(tally.wait_for_output("reloaded"));
  CHECK(http_get(port, "/").header("X-Backend") == "b2");

  dir.write("tally.yaml", "pools: [\n");
  tally.send_signal(SIGHUP);
  REQUIRE(tally.wait_for_output("reload rejected"));
  CHECK(http_get(port, "/").header("X-Backend") == "b2");
  CHECK(tally.output().find(cfg + ":") != std::string::npos);
}
