// The writer thread: coalescing, spacing, periodic writes, flush, and failures that are counted
// and logged while the last good file stays.
#include <unistd.h>

#include <mutex>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "checkpoint_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_file.hpp"
#include "tally/cluster/checkpoint_writer.hpp"

namespace tally::cluster {
namespace {

using namespace std::chrono_literals;
using test::temp_dir;
using testing::sample_state;
namespace fs = std::filesystem;

// Collects what the writer reports from its thread.
struct recorder {
  std::mutex mutex;
  std::vector<std::string> logs;
  std::vector<checkpoint_write_report> reports;
  std::vector<std::chrono::steady_clock::time_point> finished;

  void attach(checkpoint_writer_options& options) {
    options.log = [this](std::string_view line) {
      std::lock_guard lock(mutex);
      logs.emplace_back(line);
    };
    options.on_write = [this](const checkpoint_write_report& report) {
      std::lock_guard lock(mutex);
      reports.push_back(report);
      finished.push_back(std::chrono::steady_clock::now());
    };
    options.wall_clock_ms = [] { return std::int64_t{1764134999000}; };
  }
  std::string all_logs() {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& line : logs)
      out += line + "\n";
    return out;
  }
};

// Waits for the writer thread to get somewhere; the limit only turns a hang into a failure, so it
// is far beyond any fsync a loaded machine takes.
template <class Pred>
void wait_until(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(2ms);
}

checkpoint_state decode_file(const fs::path& path) {
  const auto decoded = decode_checkpoint(testing::read_whole_file(path));
  REQUIRE_MESSAGE(decoded, decoded.error);
  return *decoded.state;
}

TEST_CASE("checkpoint writer: a requested state lands on disk - stamped with the wall clock") {
  temp_dir dir;
  recorder seen;
  checkpoint_writer_options options{dir / "state.json"};
  seen.attach(options);
  checkpoint_writer writer(options);
  writer.request_write(sample_state());
  CHECK(writer.flush());

  auto expected = sample_state();
  expected.written_at_ms = 1764134999000;
  CHECK(decode_file(dir / "state.json") == expected);
  CHECK(writer.successes() == 1);
  CHECK(writer.failures() == 0);
  CHECK(writer.last_success_ms() == 1764134999000);
  REQUIRE(seen.reports.size() == 1);
  CHECK(seen.reports[0].ok);
  CHECK(seen.reports[0].bytes == fs::file_size(dir / "state.json"));
  CHECK(writer.flush());  // nothing pending: no extra write
  CHECK(writer.successes() == 1);
}

TEST_CASE("checkpoint writer: a burst of requests becomes at most two writes - latest wins") {
  temp_dir dir;
  checkpoint_writer_options options{dir / "state.json"};
  options.min_spacing = 10s;  // nothing but the first write and the flush can happen
  checkpoint_writer writer(options);
  for (unsigned i = 1; i <= 100; ++i)
    writer.request_write(sample_state(1, 2, i));
  CHECK(writer.flush());
  CHECK(writer.successes() >= 1);
  CHECK(writer.successes() <= 2);
  CHECK(decode_file(dir / "state.json").hlc == sample_state(1, 2, 100).hlc);
}

TEST_CASE("checkpoint writer: writes are spaced by min_spacing") {
  temp_dir dir;
  recorder seen;
  checkpoint_writer_options options{dir / "state.json"};
  options.min_spacing = 150ms;
  seen.attach(options);
  checkpoint_writer writer(options);
  writer.request_write(sample_state(1, 1, 1));
  wait_until([&] { return writer.successes() >= 1; });
  const auto first_started = std::chrono::steady_clock::now();
  writer.request_write(sample_state(1, 1, 2));  // must wait for the spacing, not for a flush
  wait_until([&] { return writer.successes() >= 2; });
  REQUIRE(writer.successes() == 2);
  std::lock_guard lock(seen.mutex);
  // From the start of the first write (its end minus its duration) to the end of the second.
  const auto first_start = seen.finished[0] - seen.reports[0].duration;
  CHECK(seen.finished[1] - first_start >= 145ms);
  CHECK(seen.finished[1] > first_started);
}

TEST_CASE("checkpoint writer: the periodic write asks the source on the writer thread") {
  temp_dir dir;
  std::atomic<unsigned> calls{0};
  checkpoint_writer_options options{dir / "state.json"};
  options.interval = 20ms;
  options.source = [&] { return sample_state(1, 1, ++calls); };
  checkpoint_writer writer(options);
  wait_until([&] { return writer.successes() >= 3; });
  CHECK(writer.successes() >= 3);
  CHECK(calls.load() >= 3);
}

TEST_CASE("checkpoint writer: failures are logged and counted - serving goes on") {
  temp_dir dir;
  recorder seen;
  const auto path = dir / "missing-dir" / "state.json";
  checkpoint_writer_options options{path};
  seen.attach(options);
  checkpoint_writer writer(options);
  writer.request_write(sample_state());
  // One failure, or two if the thread wrote before flush() and flush() retried the same state.
  CHECK_FALSE(writer.flush());
  const auto failures = writer.failures();
  CHECK(failures >= 1);
  CHECK(failures <= 2);
  CHECK(writer.successes() == 0);
  CHECK(writer.last_success_ms() == 0);
  const auto logs = seen.all_logs();
  CHECK(logs.find(path.string()) != std::string::npos);
  CHECK(logs.find("No such file or directory") != std::string::npos);
  CHECK(logs.find("tally keeps serving") != std::string::npos);
  std::lock_guard lock(seen.mutex);
  REQUIRE(seen.reports.size() == failures);
  REQUIRE(seen.logs.size() == failures);
  for (const auto& report : seen.reports)
    CHECK_FALSE(report.ok);
}

TEST_CASE("checkpoint writer: after a failure the last good file is intact - and writes recover") {
  temp_dir dir;
  recorder seen;
  fs::create_directory(dir / "state");
  const auto path = dir / "state" / "state.json";
  checkpoint_writer_options options{path};
  options.min_spacing = 10s;  // after the first write, only flush() writes
  seen.attach(options);
  checkpoint_writer writer(options);
  writer.request_write(sample_state(1, 2, 1));
  REQUIRE(writer.flush());

  // A file where the directory was: the temp file cannot be created, even as root.
  fs::rename(dir / "state", dir / "state.away");
  testing::write_whole_file(dir / "state", "in the way");
  writer.request_write(sample_state(1, 2, 2));
  CHECK_FALSE(writer.flush());
  CHECK(writer.failures() == 1);
  CHECK(decode_file(dir / "state.away" / "state.json").hlc == sample_state(1, 2, 1).hlc);

  fs::remove(dir / "state");
  fs::rename(dir / "state.away", dir / "state");
  CHECK(writer.flush());  // retries the state that failed
  CHECK(decode_file(path).hlc == sample_state(1, 2, 2).hlc);
  CHECK(writer.successes() == 2);
  CHECK(seen.all_logs().find("works again") != std::string::npos);
}

TEST_CASE("checkpoint writer: destruction writes what is pending") {
  temp_dir dir;
  const auto path = dir / "state.json";
  {
    checkpoint_writer_options options{path};
    options.min_spacing = 10s;
    checkpoint_writer writer(options);
    writer.request_write(sample_state(1, 1, 1));
    writer.request_write(sample_state(1, 1, 2));
    writer.request_write(sample_state(1, 1, 3));
  }
  CHECK(decode_file(path).hlc == sample_state(1, 1, 3).hlc);
}

TEST_CASE("checkpoint writer: drained backend survives a restart") {
  temp_dir dir;
  const auto path = dir / "state.json";
  auto state = sample_state(1, 3);
  state.pools[0].backends[1].drained = true;
  state.pools[0].backends[1].admin_hlc = checkpoint_admin_stamp{1764134100000, 0, "tally-a"};
  {
    checkpoint_writer writer(checkpoint_writer_options{path});
    writer.request_write(state);
    REQUIRE(writer.flush());
  }
  const auto back = decode_file(path);
  CHECK(back.pools[0].backends[1].drained);
  CHECK(back.pools[0].backends[1].admin_hlc == state.pools[0].backends[1].admin_hlc);
}

}  // namespace
}  // namespace tally::cluster
