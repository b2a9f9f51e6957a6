// Crash safety and cost: kill -9 a writer at random moments hundreds of times and require a
// loadable file every time; time a write with 1,000 backends.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "checkpoint_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_file.hpp"

namespace tally::cluster {
namespace {

using namespace std::chrono_literals;
using test::temp_dir;
using testing::sample_state;
namespace fs = std::filesystem;

TEST_CASE("checkpoint crash: the file loads after every one of hundreds of kill -9 mid-write") {
  temp_dir dir;
  const auto path = dir / "state.json";
  // Encoded before fork so the child only does the file protocol; sizes from 1 KiB to ~180 KiB
  // so kills land in every step (open, write, fsync, rename, directory fsync).
  std::vector<std::string> variants;
  for (unsigned i = 0; i < 6; ++i)
    variants.push_back(encode_checkpoint(sample_state(i % 2 ? 4 : 1, i % 2 ? 250 : 3, i + 1)));

  const unsigned seed = std::random_device{}();
  MESSAGE("kill -9 seed: " << seed);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay_us(0, 6000);

  constexpr int kills = 250;
  int iterations = 0, files_seen = 0, temps_left = 0;
  std::set<std::size_t> variants_seen;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  for (; iterations < kills && std::chrono::steady_clock::now() < deadline; ++iterations) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (std::size_t n = static_cast<std::size_t>(iterations);; ++n)
        write_checkpoint_file(path, variants[n % variants.size()]);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);  // reaped, so its temp counts as stale
    REQUIRE(WIFSIGNALED(status));

    if (!checkpoint_temp_files(path, child).empty()) ++temps_left;
    CHECK(remove_stale_checkpoint_temps(path) <= 1);  // only this child's, if any
    if (!fs::exists(path)) {
      CHECK_MESSAGE(files_seen == 0, "the file vanished after kill " << iterations);
      continue;
    }
    ++files_seen;
    const auto bytes = testing::read_whole_file(path);
    const auto decoded = decode_checkpoint(bytes);
    REQUIRE_MESSAGE(decoded, "kill " << iterations << " left a bad file: " << decoded.error);
    for (std::size_t v = 0; v < variants.size(); ++v)
      if (bytes == variants[v]) variants_seen.insert(v);
  }
  CHECK(iterations >= 200);
  CHECK(files_seen > 0);
  CHECK(fs::exists(path));
  MESSAGE("kill -9 iterations: " << iterations << ", file present and valid after " << files_seen
                                 << ", kills that left a partial temp file: " << temps_left
                                 << ", distinct states seen: " << variants_seen.size());
  CHECK(std::distance(fs::directory_iterator(dir.path()), {}) == 1);
}

TEST_CASE("checkpoint cost: encoding and writing 1 000 backends") {
  temp_dir dir;
  const auto path = dir / "state.json";
  const auto state = sample_state(4, 250, 3);
  constexpr int rounds = 20;
  using clock = std::chrono::steady_clock;

  std::string bytes;
  auto started = clock::now();
  for (int i = 0; i < rounds; ++i)
    bytes = encode_checkpoint(state);
  const auto encode = (clock::now() - started) / rounds;

  started = clock::now();
  for (int i = 0; i < rounds; ++i)
    REQUIRE_FALSE(write_checkpoint_file(path, bytes));
  const auto write = (clock::now() - started) / rounds;

  started = clock::now();
  for (int i = 0; i < rounds; ++i)
    REQUIRE(decode_checkpoint(bytes));
  const auto decode = (clock::now() - started) / rounds;

  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  MESSAGE("checkpoint with 1000 backends: " << bytes.size() << " bytes; encode " << ms(encode)
                                            << " ms, write+fsync+rename+dir fsync " << ms(write)
                                            << " ms, total per write " << ms(encode + write)
                                            << " ms; decode " << ms(decode) << " ms");
}

}  // namespace
}  // namespace tally::cluster
