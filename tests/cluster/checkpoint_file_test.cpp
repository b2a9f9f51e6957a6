// Atomic replacement on disk: failures leave the last good file and no temp file behind.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <doctest/doctest.h>

#include "checkpoint_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_file.hpp"

namespace tally::cluster {
namespace {

using test::temp_dir;
using testing::read_whole_file;
namespace fs = std::filesystem;

std::size_t entries_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
}

TEST_CASE("checkpoint file: writes - replaces - and leaves no temp file") {
  temp_dir dir;
  const auto path = dir / "state.json";
  REQUIRE_FALSE(write_checkpoint_file(path, "first"));
  CHECK(read_whole_file(path) == "first");
  REQUIRE_FALSE(write_checkpoint_file(path, "second, longer"));
  CHECK(read_whole_file(path) == "second, longer");
  CHECK(entries_in(dir.path()) == 1);
  CHECK((fs::status(path).permissions() & fs::perms::owner_read) != fs::perms::none);
}

TEST_CASE("checkpoint file: a relative path writes into the current directory") {
  temp_dir dir;
  const auto previous = fs::current_path();
  fs::current_path(dir.path());
  const auto error = write_checkpoint_file("relative.json", "x");
  fs::current_path(previous);
  CHECK_FALSE(error);
  CHECK(read_whole_file(dir / "relative.json") == "x");
}

// Tests run as root, where chmod does not stop writes; these paths fail for everyone.
TEST_CASE("checkpoint file: an impossible directory fails with path - reason and advice") {
  temp_dir dir;
  testing::write_whole_file(dir / "plain-file", "not a directory");

  const auto below_file = dir / "plain-file" / "state.json";
  const auto error = write_checkpoint_file(below_file, "x");
  REQUIRE(error);
  CHECK(error->error_number == ENOTDIR);
  CHECK(error->message.find(below_file.string()) != std::string::npos);
  CHECK(error->message.find("Not a directory") != std::string::npos);
  CHECK(error->message.find("fix checkpoint.path") != std::string::npos);

  const auto missing = write_checkpoint_file(dir / "no-such-dir" / "state.json", "x");
  REQUIRE(missing);
  CHECK(missing->error_number == ENOENT);
  CHECK(missing->message.find("create it or change checkpoint.path") != std::string::npos);
}

TEST_CASE("checkpoint file: a failed write keeps the last good file") {
  temp_dir dir;
  const auto path = dir / "state.json";
  REQUIRE_FALSE(write_checkpoint_file(path, "good"));
  // Something already at the temp file's name makes creating it fail, even for root.
  const std::string nonce = "00112233aabbccdd";
  fs::create_directory(checkpoint_temp_path(path, ::getpid(), nonce));
  const auto error = write_checkpoint_file(path, "new", nonce);
  REQUIRE(error);
  CHECK(error->error_number == EEXIST);
  CHECK(read_whole_file(path) == "good");
}

TEST_CASE("checkpoint file: running out of space mid-write removes the partial temp file") {
  // A file size limit makes write() fail part-way (EFBIG), as a full disk would (ENOSPC);
  // in a child so the limit does not touch the test runner.
  temp_dir dir;
  const auto path = dir / "state.json";
  const auto good = encode_checkpoint(testing::sample_state(1, 2));
  REQUIRE_FALSE(write_checkpoint_file(path, good));

  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const auto error = write_checkpoint_file(path, std::string(100000, 'x'));
    const bool temp_gone = checkpoint_temp_files(path, ::getpid()).empty();
    ::_exit(error && error->error_number == EFBIG && temp_gone ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_whole_file(path) == good);
  CHECK(entries_in(dir.path()) == 1);
}

TEST_CASE("checkpoint file: reading a missing - present and oversized file") {
  temp_dir dir;
  CHECK(read_checkpoint_file(dir / "none.json").status == checkpoint_read_status::missing);
  testing::write_whole_file(dir / "a.json", "abc");
  const auto read = read_checkpoint_file(dir / "a.json");
  CHECK(read.status == checkpoint_read_status::ok);
  CHECK(read.bytes == "abc");
  const auto of_dir = read_checkpoint_file(dir.path());
  CHECK(of_dir.status == checkpoint_read_status::error);
  CHECK(of_dir.error.find("Is a directory") != std::string::npos);
}

TEST_CASE("checkpoint file: moving aside uses a UTC stamp and never overwrites") {
  CHECK(checkpoint_utc_stamp(testing::fixed_now()) == "20261126T051500Z");
  temp_dir dir;
  const auto path = dir / "state.json";
  std::string error;
  testing::write_whole_file(path, "bad 1");
  const auto first = move_checkpoint_aside(path, testing::fixed_now(), error);
  REQUIRE(first);
  CHECK(first->filename() == "state.json.corrupt-20261126T051500Z");
  testing::write_whole_file(path, "bad 2");
  const auto second = move_checkpoint_aside(path, testing::fixed_now(), error);
  REQUIRE(second);
  CHECK(second->filename() == "state.json.corrupt-20261126T051500Z-1");
  CHECK(read_whole_file(*first) == "bad 1");
  CHECK(read_whole_file(*second) == "bad 2");
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(move_checkpoint_aside(path, testing::fixed_now(), error));
  CHECK(error.find("No such file") != std::string::npos);
}

TEST_CASE("checkpoint file: stale temp files of dead writers are removed - live ones kept") {
  temp_dir dir;
  const auto path = dir / "state.json";
  const pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);

  const std::string nonce = "0123456789abcdef";
  testing::write_whole_file(checkpoint_temp_path(path, dead, nonce), "half");
  auto legacy = path;
  legacy += ".tmp-" + std::to_string(dead);  // the name older versions used
  testing::write_whole_file(legacy, "half");
  testing::write_whole_file(checkpoint_temp_path(path, ::getpid(), nonce), "mine");
  testing::write_whole_file(dir / "state.json.tmp-abc", "not a pid");
  testing::write_whole_file(dir / "other.json.tmp-1", "another file's");
  auto not_nonce = path;
  not_nonce += ".tmp-" + std::to_string(dead) + "-zz";
  testing::write_whole_file(not_nonce, "not our name");
  CHECK(remove_stale_checkpoint_temps(path) == 2);
  CHECK_FALSE(fs::exists(checkpoint_temp_path(path, dead, nonce)));
  CHECK_FALSE(fs::exists(legacy));
  CHECK(fs::exists(checkpoint_temp_path(path, ::getpid(), nonce)));
  CHECK(fs::exists(dir / "state.json.tmp-abc"));
  CHECK(fs::exists(dir / "other.json.tmp-1"));
  CHECK(fs::exists(not_nonce));
}

TEST_CASE("checkpoint file: a symlink planted at the temp name is not followed") {
  temp_dir dir;
  const auto path = dir / "state.json";
  const auto victim = dir / "victim";
  testing::write_whole_file(victim, "precious");
  const std::string nonce = "feedfacecafebeef";
  fs::create_symlink(victim, checkpoint_temp_path(path, ::getpid(), nonce));
  const auto error = write_checkpoint_file(path, "attacker-chosen", nonce);
  REQUIRE(error);
  CHECK((error->error_number == EEXIST || error->error_number == ELOOP));
  CHECK(read_whole_file(victim) == "precious");
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("checkpoint file: the temp name is unpredictable and the file is private (0600)") {
  temp_dir dir;
  const auto path = dir / "state.json";
  // Names planted for every nonce an attacker might guess from the pid alone do not matter.
  auto guessed = path;
  guessed += ".tmp-" + std::to_string(::getpid());
  fs::create_directory(guessed);
  REQUIRE_FALSE(write_checkpoint_file(path, "one"));
  REQUIRE_FALSE(write_checkpoint_file(path, "two"));
  CHECK(read_whole_file(path) == "two");
  CHECK(checkpoint_temp_files(path, ::getpid()).empty());  // nothing left behind
  const auto perms = fs::status(path).permissions();
  CHECK((perms & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
}

}  // namespace
}  // namespace tally::cluster
