// load_config_file: reading, hashing, YAML syntax errors, and reporting every error in order.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config_test_support.hpp"

using namespace tally::config;
using namespace tally::config::test;

namespace {

// A file in the temp directory, removed when the test ends.
class temp_file {
 public:
  explicit temp_file(std::string_view contents) {
    char name[] = "/tmp/tally-config-test-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    write(contents);
  }
  ~temp_file() { std::remove(path_.c_str()); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  void write(std::string_view contents) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

TEST_CASE("a valid file loads with its path as source_name and the SHA-256 of its bytes") {
  temp_file file(minimal_yaml);
  auto r = load_config_file(file.path());
  REQUIRE(r.ok());
  CHECK(r.errors.empty());
  CHECK(r.value->source_name == file.path());
  CHECK(r.value->content_hash.size() == 64);
  CHECK(r.value->content_hash.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("content_hash is the SHA-256 of the exact bytes") {
  temp_file file(minimal_yaml);
  auto first = load_config_file(file.path());
  auto again = load_config_file(file.path());
  REQUIRE(first.ok());
  REQUIRE(again.ok());
  CHECK(first.value->content_hash == again.value->content_hash);

  file.write(std::string(minimal_yaml) + "# a comment changes the bytes, not the meaning\n");
  auto changed = load_config_file(file.path());
  REQUIRE(changed.ok());
  CHECK(changed.value->content_hash != first.value->content_hash);

  auto from_string = load_config_string(minimal_yaml, "inline");
  REQUIRE(from_string.ok());
  CHECK(from_string.value->content_hash == first.value->content_hash);
}

TEST_CASE("content_hash matches a known SHA-256 value") {
  // `printf 'pools:\n  web:\n ...' | sha256sum` of the 6 lines of minimal_yaml.
  auto r = load_config_string(minimal_yaml, "inline");
  REQUIRE(r.ok());
  CHECK(r.value->content_hash ==
        "a9902c7cebc083c67d9237ae3546bb0f166c5a63cd2bb1dafbe4e9269fae3512");
}

TEST_CASE("an unreadable file is one error without a position") {
  auto missing = load_config_file("/nonexistent/tally.yaml");
  CHECK_FALSE(missing.ok());
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].line == 0);
  CHECK(missing.errors[0].to_string() ==
        "/nonexistent/tally.yaml: cannot read: No such file or directory");

  auto directory = load_config_file("/tmp");
  REQUIRE(directory.errors.size() == 1);
  CHECK(directory.errors[0].to_string() == "/tmp: cannot read: Is a directory");
}

TEST_CASE("a YAML syntax error is reported with its position") {
  temp_file file(
      "pools:\n"
      "  web: { backends: [ { address: 127.0.0.1:9001 } ]\n"
      "routes: [ { pool: web } ]\n");
  auto r = load_config_file(file.path());
  CHECK_FALSE(r.ok());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].file == file.path());
  CHECK(r.errors[0].line == 3);
  CHECK(r.errors[0].column == 1);
  CHECK(contains(r.errors[0].to_string(), ":3:1: invalid YAML: "));

  auto e = only_error("pools: [1, 2\n");
  CHECK(starts_with(e, "t.yaml:2:1: invalid YAML: end of sequence flow not found"));
  auto tab = only_error("pools:\n\tweb: {}\n");
  CHECK(starts_with(tab, "t.yaml:"));
  CHECK(contains(tab, "invalid YAML"));
}

TEST_CASE("every error is reported - in file order - and no config is returned") {
  auto r = load(
      "listen: 127.0.0.1\n"                                  // 1
      "workers: 1000\n"                                      // 2
      "timeouts: { connect: 1x, idle: 0s }\n"                // 3
      "pools:\n"                                             // 4
      "  web:\n"                                             // 5
      "    policy: fastest\n"                                // 6
      "    backends:\n"                                      // 7
      "      - { address: 127.0.0.1:9001, weight: 5000 }\n"  // 8
      "    retry: { on: [reset, teapot] }\n"                 // 9
      "routes:\n"                                            // 10
      "  - { pool: nope, path_prefix: x }\n"                 // 11
      "checkpoint: { interval: 0s }\n");                     // 12
  CHECK_FALSE(r.ok());
  CHECK(r.value == nullptr);
  auto texts = error_texts(r);
  REQUIRE(texts.size() == 10);
  CHECK(starts_with(texts[0], "t.yaml:1:9: bad address \"127.0.0.1\""));
  CHECK(starts_with(texts[1], "t.yaml:2:10: workers must be between 0 and 256"));
  CHECK(starts_with(texts[2], "t.yaml:3:22: bad duration \"1x\""));
  CHECK(starts_with(texts[3], "t.yaml:3:32: timeouts.idle must be greater than 0"));
  CHECK(starts_with(texts[4], "t.yaml:6:13: pools.web.policy must be one of"));
  CHECK(starts_with(texts[5],
                    "t.yaml:8:44: pools.web.backends[0].weight must be between 0 and 1000"));
  CHECK(starts_with(texts[6], "t.yaml:9:26: unknown retry condition \"teapot\""));
  CHECK(
      starts_with(texts[7], "t.yaml:11:13: route names unknown pool \"nope\"; defined pools: web"));
  CHECK(starts_with(texts[8], "t.yaml:11:32: routes[0].path_prefix must start with '/'"));
  CHECK(starts_with(texts[9], "t.yaml:12:25: checkpoint.interval must be greater than 0"));
}

TEST_CASE("config_error prints FILE:LINE:COL: message - or FILE: message without a place") {
  CHECK(config_error{"a.yaml", 3, 7, "oops"}.to_string() == "a.yaml:3:7: oops");
  CHECK(config_error{"a.yaml", 0, 0, "cannot read: x"}.to_string() == "a.yaml: cannot read: x");
}
