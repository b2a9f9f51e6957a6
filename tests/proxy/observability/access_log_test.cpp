#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tally/proxy/access_log.hpp"

using namespace tally::proxy;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

struct temp_path {
  std::filesystem::path path;
  explicit temp_path(const std::string& stem)
      : path(std::filesystem::temp_directory_path() /
             (stem + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()))) {}
  ~temp_path() { std::filesystem::remove(path); }
};

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

access_record sample_record() {
  access_record r;
  // 2026-11-26T04:27:58.123Z
  r.time = std::chrono::system_clock::time_point{std::chrono::milliseconds{1795667278123}};
  r.client = "203.0.113.9:51234";
  r.method = "GET";
  r.host = "api.example.com";
  r.target = "/v1/items?id=7";
  r.status = 200;
  r.bytes_in = 12;
  r.bytes_out = 5120;
  r.duration = 3042us + 500ns;
  r.pool = "web";
  r.backend = "127.0.0.1:9001";
  r.upstream_duration = 2811us + 999ns;
  r.tries = 2;
  r.request_id = "3f2a9c";
  return r;
}

std::string format(const access_record& r) {
  std::string s;
  format_access_record(r, s);
  return s;
}

}  // namespace

TEST_CASE("access_log: a record is one JSON object on one line with every field") {
  const std::string line = format(sample_record());
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line == R"({"time":"2026-11-26T04:27:58.123Z","client":"203.0.113.9:51234","method":"GET",)"
                R"("host":"api.example.com","target":"/v1/items?id=7","status":200,"bytes_in":12,)"
                R"("bytes_out":5120,"duration_ms":3.042,"pool":"web","backend":"127.0.0.1:9001",)"
                R"("upstream_ms":2.811,"tries":2,"termination":"ok","request_id":"3f2a9c"})"
                "\n");
  const json::object o = json::parse(line).as_object();
  CHECK(o.at("status").as_int64() == 200);
  CHECK(o.at("duration_ms").as_double() == doctest::Approx(3.042));
}

TEST_CASE("access_log: empty pool and backend are null - the epoch means now") {
  access_record r = sample_record();
  r.pool = {};
  r.backend = {};
  r.host = {};
  r.upstream_duration = std::chrono::nanoseconds{-1};
  r.termination = access_termination::no_healthy_backend;
  r.time = {};
  r.duration = 1500ms;
  const json::object o = json::parse(format(r)).as_object();
  CHECK(o.at("pool").is_null());
  CHECK(o.at("backend").is_null());
  CHECK(o.at("host").is_null());
  CHECK(o.at("upstream_ms").is_null());
  CHECK(o.at("termination").as_string() == "no_healthy_backend");
  CHECK(o.at("duration_ms").as_double() == 1500.0);
  const std::string time(o.at("time").as_string());
  REQUIRE(time.size() == 24);
  CHECK(time[10] == 'T');
  CHECK(time.back() == 'Z');
  CHECK(time.substr(0, 2) == "20");
}

TEST_CASE("access_log: hostile targets and ids are escaped into valid JSON") {
  access_record r = sample_record();
  const std::string target =
      "/a\"b\\c\nd\re\tf\x01g\x7f\xff h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc0\xaf "
      "\xed\xa0\x80 "
      "\xe2\x82";
  const std::string id("id\0x\"", 5);
  r.target = target;
  r.request_id = id;
  r.method = "G\"ET";
  const std::string line = format(r);
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find('\x01') == std::string::npos);
  CHECK(line.find('\xff') == std::string::npos);
  CHECK(line.find(R"(\u0001)") != std::string::npos);
  CHECK(line.find(R"(\u00ff)") != std::string::npos);
  CHECK(line.find(R"(\u007f)") != std::string::npos);

  const json::object o = json::parse(line).as_object();  // strict: valid UTF-8 required
  // Valid UTF-8 passes through; every invalid byte becomes the code point U+00XX.
  CHECK(std::string(o.at("target").as_string()) ==
        "/a\"b\\c\nd\re\tf\x01g\x7f\xc3\xbf h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
        "\xc3\x80\xc2\xaf \xc3\xad\xc2\xa0\xc2\x80 \xc3\xa2\xc2\x82");
  CHECK(std::string(o.at("request_id").as_string()) == std::string("id\0x\"", 5));
  CHECK(std::string(o.at("method").as_string()) == "G\"ET");
}

TEST_CASE("access_log: lines written to a file are visible after flush - one object per line") {
  temp_path tmp("tally-access");
  {
    access_log log(tmp.path.string());
    CHECK(log.path() == tmp.path.string());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) {
          access_record r = sample_record();
          const std::string target = "/t" + std::to_string(t) + "/" + std::to_string(i);
          r.target = target;
          r.status = 200 + t;
          CHECK(log.write(r));
        }
      });
    }
    for (auto& th : threads)
      th.join();
    log.flush();
    CHECK(log.written() == 2000);
    CHECK(log.dropped() == 0);
    CHECK(log.write_errors() == 0);

    auto lines = read_lines(tmp.path);
    REQUIRE(lines.size() == 2000);
    std::vector<int> per_thread(4, 0);
    for (const auto& l : lines) {
      const json::object o = json::parse(l).as_object();
      const auto status = o.at("status").as_int64();
      REQUIRE(status >= 200);
      REQUIRE(status < 204);
      ++per_thread[status - 200];
      CHECK(o.size() == 15);
      for (const char* key :
           {"time", "client", "method", "target", "status", "bytes_in", "bytes_out", "duration_ms",
            "pool", "backend", "tries", "request_id"}) {
        CHECK(o.contains(key));
      }
    }
    CHECK(per_thread == std::vector<int>{500, 500, 500, 500});

    // A single late line also shows up promptly after flush().
    access_record r = sample_record();
    r.target = "/last";
    CHECK(log.write(r));
    log.flush();
    lines = read_lines(tmp.path);
    REQUIRE(lines.size() == 2001);
    CHECK(json::parse(lines.back()).at("target").as_string() == "/last");
  }
}

TEST_CASE("access_log: the destructor flushes - an existing file is appended to") {
  temp_path tmp("tally-access");
  { std::ofstream(tmp.path) << "previous\n"; }
  {
    access_log log(tmp.path.string());
    for (int i = 0; i < 10; ++i)
      log.write(sample_record());
  }
  const auto lines = read_lines(tmp.path);
  REQUIRE(lines.size() == 11);
  CHECK(lines[0] == "previous");
  CHECK(json::parse(lines[10]).at("pool").as_string() == "web");
}

TEST_CASE("access_log: a stalled sink makes write() drop and count - never block") {
  // A FIFO nobody reads: the writer thread blocks in write(2) once the pipe buffer is full,
  // exactly like a stuck disk. Producers must keep going.
  temp_path tmp("tally-access-fifo");
  REQUIRE(::mkfifo(tmp.path.c_str(), 0600) == 0);
  const int reader = ::open(tmp.path.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  std::thread drain;
  {
    access_log log(tmp.path.string(), 4096);
    const std::string line = format(sample_record());
    const int total = 4 * (65536 + 4096) / static_cast<int>(line.size());
    int accepted = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < total; ++i) {
      if (log.write(sample_record())) ++accepted;
      // Give the writer a chance to drain into the pipe, so the pipe really fills.
      if (i % 16 == 0) std::this_thread::sleep_for(100us);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(log.dropped() > 0);
    CHECK(accepted + static_cast<int>(log.dropped()) == total);
    CHECK(elapsed < 5s);

    // A line bigger than the whole queue is dropped outright.
    access_record big = sample_record();
    const std::string huge(8192, 'x');
    big.target = huge;
    const auto before = log.dropped();
    CHECK_FALSE(log.write(big));
    CHECK(log.dropped() == before + 1);

    // Drain the pipe so the destructor's flush can finish.
    drain = std::thread([reader] {
      const int fl = ::fcntl(reader, F_GETFL);
      ::fcntl(reader, F_SETFL, fl & ~O_NONBLOCK);
      char buf[65536];
      while (::read(reader, buf, sizeof buf) > 0) {
      }
    });
    log.flush();
    CHECK(log.written() == static_cast<std::uint64_t>(accepted));
  }
  // The log's destructor closed the writing end, so the drain sees EOF. Joined before closing
  // `reader`: a thread still reading a closed (and reused) fd number would steal other data.
  drain.join();
  ::close(reader);
}

TEST_CASE("access_log: the path - writes to stdout") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  std::fflush(stdout);
  const int saved_stdout = ::dup(STDOUT_FILENO);
  ::dup2(pipe_fds[1], STDOUT_FILENO);
  std::uint64_t written = 0;
  {
    access_log log("-");
    ::dup2(saved_stdout, STDOUT_FILENO);  // the log keeps its own duplicate of the pipe
    access_record r = sample_record();
    r.target = "/stdout";
    log.write(r);
    log.flush();
    written = log.written();
  }
  ::close(saved_stdout);
  ::close(pipe_fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, n);
  ::close(pipe_fds[0]);
  CHECK(written == 1);
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  CHECK(json::parse(out).at("target").as_string() == "/stdout");
}

TEST_CASE("access_log: an unopenable path throws at construction") {
  CHECK_THROWS_AS(access_log("/nonexistent-dir-for-tally/access.log"), std::system_error);
}

TEST_CASE("access_log: per-record cost (informational)") {
  // Formatting alone, one thread: the part of write() that never contends.
  {
    std::string line;
    const access_record r = sample_record();
    constexpr int n = 200000;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      line.clear();
      format_access_record(r, line);
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    MESSAGE("format_access_record: " << ns / double(n) << " ns/record, " << line.size()
                                     << " bytes");
  }
  // write() from 2 threads at full speed, the writer draining to /dev/null.
  constexpr int per_thread = 200000;
  access_log log("/dev/null");
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      access_record r = sample_record();
      for (int i = 0; i < per_thread; ++i)
        log.write(r);
    });
  }
  for (auto& th : threads)
    th.join();
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  log.flush();
  MESSAGE("access_log::write: " << ns / (2.0 * per_thread) << " ns/record wall, 2 threads; "
                                << log.dropped() << " dropped of " << 2 * per_thread);
  CHECK(log.written() + log.dropped() == 2 * per_thread);
}

TEST_CASE("access_log: reopen() after a rename writes later lines to a new file at the path") {
  temp_path file("tally-access-reopen");
  temp_path rotated("tally-access-rotated");
  access_log log(file.path.string());
  REQUIRE(log.write(sample_record()));
  log.flush();
  std::filesystem::rename(file.path, rotated.path);
  log.reopen();
  log.flush();  // returns once the reopen is done
  REQUIRE(log.reopens() == 1);
  REQUIRE(log.write(sample_record()));
  log.flush();
  CHECK(read_lines(rotated.path).size() == 1);
  CHECK(read_lines(file.path).size() == 1);
}

TEST_CASE("access_log: every termination has a name") {
  for (int t = 0; t <= static_cast<int>(access_termination::upstream_tls); ++t)
    CHECK(to_string(static_cast<access_termination>(t)) != "unknown");
  CHECK(to_string(access_termination::client_closed) == "client_closed");
}
