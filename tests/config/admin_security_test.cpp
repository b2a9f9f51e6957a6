// The admin token's sources (admin.token, admin.token_file, TALLY_ADMIN_TOKEN), the secure
// default for admin.listen, and cluster.max_clock_offset.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config_test_support.hpp"

using namespace tally::config;
using namespace tally::config::test;
namespace fs = std::filesystem;

namespace {

// A private directory for token files, removed when the test ends.
class token_dir {
 public:
  token_dir() {
    char name[] = "/tmp/tally-token-test-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path_ = name;
  }
  ~token_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& contents) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << contents;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

load_options with_env(std::string token) {
  load_options o;
  o.admin_token_override = std::move(token);
  return o;
}

}  // namespace

TEST_CASE("admin.token_file: the token is read at load with its trailing newline trimmed") {
  token_dir dir;
  const auto file = dir.write("token", "from-file-123\n");
  auto r = load(after_minimal("admin: { token_file: " + file + " }\n"));
  REQUIRE(r.ok());
  CHECK(r.value->admin_token == "from-file-123");
  CHECK(r.value->admin_token_file == file);
  CHECK(r.value->admin_token_source == token_source::file);
  CHECK(std::string(to_string(r.value->admin_token_source)) == "admin.token_file");
  // CRLF from an editor too; and a reload reads the file again.
  dir.write("token", "rotated\r\n");
  auto again = load(after_minimal("admin: { token_file: " + file + " }\n"));
  REQUIRE(again.ok());
  CHECK(again.value->admin_token == "rotated");
}

TEST_CASE("admin.token_file: a relative path is found beside the config file") {
  token_dir dir;
  dir.write("token", "beside\n");
  const auto config_path = (dir.path() / "tally.yaml").string();
  auto r = load_config_string(after_minimal("admin: { token_file: token }\n"), config_path,
                              load_options{});
  REQUIRE(r.ok());
  CHECK(r.value->admin_token == "beside");
}

TEST_CASE(
    "admin.token_file: unreadable, empty, oversized or multi-line files are errors at the key") {
  token_dir dir;
  {
    auto e = only_error(
        after_minimal("admin: { token_file: " + (dir.path() / "none").string() + " }\n"));
    CHECK(starts_with(e, "t.yaml:7:22: "));
    CHECK(contains(e, "cannot be read: No such file or directory"));
    CHECK(contains(e, "create it with the token as its only line"));
  }
  {
    const auto file = dir.write("empty", "\n");
    auto e = only_error(after_minimal("admin: { token_file: " + file + " }\n"));
    CHECK(starts_with(e, "t.yaml:7:22: "));
    CHECK(contains(e, "is empty; write the token into it"));
  }
  {
    const auto file = dir.write("big", std::string(5000, 'x'));
    auto e = only_error(after_minimal("admin: { token_file: " + file + " }\n"));
    CHECK(contains(e, "larger than 4KiB"));
  }
  {
    const auto file = dir.write("lines", "one\ntwo\n");
    auto e = only_error(after_minimal("admin: { token_file: " + file + " }\n"));
    CHECK(contains(e, "printable ASCII without spaces"));
  }
  {
    auto e = only_error(after_minimal("admin: { token_file: \"\" }\n"));
    CHECK(contains(e, "admin.token_file must not be empty"));
  }
}

TEST_CASE("admin.token and admin.token_file are mutually exclusive") {
  token_dir dir;
  const auto file = dir.write("token", "x\n");
  auto e = only_error(after_minimal("admin:\n  token: abc\n  token_file: " + file + "\n"));
  CHECK(starts_with(e, "t.yaml:9:15: "));
  CHECK(contains(e, "admin.token and admin.token_file are both set; keep one"));
}

TEST_CASE("admin.token: a space or control character is refused - it goes into a header") {
  auto e = only_error(after_minimal("admin: { token: \"has space\" }\n"));
  CHECK(starts_with(e, "t.yaml:7:17: "));
  CHECK(contains(e, "admin.token must be printable ASCII without spaces"));
  auto ok = load(after_minimal("admin: { token: s3cret }\n"));
  REQUIRE(ok.ok());
  CHECK(ok.value->admin_token_source == token_source::inline_value);
}

TEST_CASE("TALLY_ADMIN_TOKEN overrides admin.token and admin.token_file") {
  token_dir dir;
  const auto file = dir.write("token", "from-file\n");
  auto r = load(after_minimal("admin: { token: inline }\n"), with_env("from-env"));
  REQUIRE(r.ok());
  CHECK(r.value->admin_token == "from-env");
  CHECK(r.value->admin_token_source == token_source::environment);
  auto f = load(after_minimal("admin: { token_file: " + file + " }\n"), with_env("from-env"));
  REQUIRE(f.ok());
  CHECK(f.value->admin_token == "from-env");
  // It also satisfies the secure default, and a bad value is reported without a place.
  CHECK(load(after_minimal("admin: { listen: 0.0.0.0:9901 }\n"), with_env("e")).ok());
  auto bad = load(minimal_yaml, with_env("a b"));
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0].to_string() ==
        "t.yaml: the environment variable TALLY_ADMIN_TOKEN must be printable ASCII without "
        "spaces (it is sent in an HTTP header); fix it or unset it");
}

TEST_CASE("TALLY_ADMIN_TOKEN is read from the environment by the one-argument loaders") {
  ::setenv("TALLY_ADMIN_TOKEN", "env-token", 1);
  auto r = load_config_string(minimal_yaml, "t.yaml");
  auto options = load_options_from_environment();
  ::setenv("TALLY_ADMIN_TOKEN", "", 1);  // empty counts as unset
  auto empty = load_options_from_environment();
  ::unsetenv("TALLY_ADMIN_TOKEN");
  REQUIRE(r.ok());
  CHECK(r.value->admin_token == "env-token");
  CHECK(options.admin_token_override == "env-token");
  CHECK_FALSE(empty.admin_token_override);
}

TEST_CASE("secure default: a non-loopback admin.listen needs a token") {
  {
    auto e = only_error(after_minimal("admin: { listen: 0.0.0.0:9901 }\n"));
    CHECK(starts_with(e, "t.yaml:7:18: "));
    CHECK(contains(e,
                   "admin.listen \"0.0.0.0:9901\" is reachable from other hosts and no admin "
                   "token is set"));
    CHECK(contains(e,
                   "set admin.token_file (or admin.token, or the environment variable "
                   "TALLY_ADMIN_TOKEN), or listen on a loopback address such as 127.0.0.1:9901"));
  }
  for (std::string listen :
       {"\"[::]:9901\"", "10.1.2.3:9901", "admin.example.com:9901", "\"[::ffff:10.0.0.1]:9901\""}) {
    CAPTURE(listen);
    CHECK(contains(only_error(after_minimal("admin: { listen: " + listen + " }\n")),
                   "is reachable from other hosts"));
  }
  // An explicitly empty token is no token.
  CHECK(contains(only_error(after_minimal("admin: { listen: 0.0.0.0:9901, token: \"\" }\n")),
                 "no admin token is set"));
  for (std::string listen : {"127.0.0.1:9901", "127.8.9.10:0", "\"[::1]:9901\"", "localhost:9901",
                             "LOCALHOST:9901", "\"[::ffff:127.0.0.1]:9901\""}) {
    CAPTURE(listen);
    CHECK(load(after_minimal("admin: { listen: " + listen + " }\n")).ok());
  }
  CHECK(load(after_minimal("admin: { listen: 0.0.0.0:9901, token: s3cret }\n")).ok());
  // A token file that failed is one error, not two.
  auto r = load(after_minimal("admin: { listen: 0.0.0.0:9901, token_file: /nonexistent/t }\n"));
  CHECK(r.errors.size() == 1);
}

TEST_CASE("cluster.max_clock_offset: 500ms by default, a duration up to 1m") {
  const std::string cluster = "cluster:\n  node_id: lb-1\n";
  auto r = load(after_minimal(cluster));
  REQUIRE(r.ok());
  CHECK(r.value->cluster->max_clock_offset == duration(500));
  auto set = load(after_minimal(cluster + "  max_clock_offset: 250ms\n"));
  REQUIRE(set.ok());
  CHECK(set.value->cluster->max_clock_offset == duration(250));
  {
    auto e = only_error(after_minimal(cluster + "  max_clock_offset: 2m\n"));
    CHECK(starts_with(e, "t.yaml:9:21: "));
    CHECK(contains(e,
                   "cluster.max_clock_offset must be at most 1m, got 2m; fix the replicas' "
                   "clocks (NTP) instead of widening it"));
  }
  CHECK(contains(only_error(after_minimal(cluster + "  max_clock_offset: soon\n")),
                 "bad duration \"soon\""));
  CHECK(contains(only_error(after_minimal(cluster + "  max_clock_offset: 0ms\n")),
                 "cluster.max_clock_offset must be greater than 0"));
}
