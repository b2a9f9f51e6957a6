#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tally/discovery/discovered_backend.hpp"
#include "tally/discovery/etcd_watcher.hpp"

namespace tally::discovery {
namespace {

TEST_CASE("base64 round-trips and rejects what is not base64") {
  for (std::string s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    CHECK(base64_decode(base64_encode(s)) == s);
  CHECK(base64_encode("/p/a") == "L3AvYQ==");
  CHECK_FALSE(base64_decode("L3AvYQ="));
  CHECK_FALSE(base64_decode("L3A*YQ=="));
  CHECK_FALSE(base64_decode("L=AvYQ=="));
}

TEST_CASE("the range end of a prefix covers exactly the keys starting with it") {
  CHECK(prefix_range_end("/p/") == "/p0");
  CHECK(prefix_range_end("a\xff") == "b");
  CHECK(prefix_range_end("") == std::string(1, '\0'));
}

TEST_CASE("backend values") {
  std::string problem;
  auto b = parse_backend_value(R"({"address": "10.0.0.5:8000", "weight": 2})", problem);
  REQUIRE(b);
  CHECK(b->address.host == "10.0.0.5");
  CHECK(b->address.port == 8000);
  CHECK(b->weight == 2);
  CHECK(parse_backend_value(R"({"address": "[::1]:80"})", problem)->weight == 1);
  CHECK(parse_backend_value(R"({"address": "api.internal:80", "weight": 0})", problem));
  for (const char* bad :
       {"", "[]", "{}", R"({"address": 5})", R"({"address": "host"})", R"({"address": "h:0"})",
        R"({"address": "h:1", "weight": "2"})", R"({"address": "h:1", "weight": 1001})",
        R"({"address": "h:1", "weight": -2})"}) {
    problem.clear();
    CHECK_MESSAGE(!parse_backend_value(bad, problem), bad);
    CHECK_FALSE(problem.empty());
  }
}

}  // namespace
}  // namespace tally::discovery
