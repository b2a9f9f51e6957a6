// parse_duration, parse_size and parse_host_port: the public scalar parsers and their edges.
#include <doctest/doctest.h>

#include "tally/config/load.hpp"

using namespace tally::config;
using namespace std::chrono_literals;

TEST_CASE("parse_duration accepts whole numbers with ms - s - m or h") {
  CHECK(parse_duration("250ms") == duration{250});
  CHECK(parse_duration("2s") == duration{2000});
  CHECK(parse_duration("1m") == duration{60'000});
  CHECK(parse_duration("1h") == duration{3'600'000});
  CHECK(parse_duration("0ms") == duration{0});
  CHECK(parse_duration("007s") == duration{7000});
}

TEST_CASE("parse_duration rejects malformed text") {
  for (const char* bad : {"", "s", "10", "10x", "1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "1S",
                          "1sec", "1ms1", "1d", "ms10"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("parse_duration rejects values that overflow instead of wrapping") {
  CHECK_FALSE(parse_duration("99999999999999999999s").has_value());
  CHECK_FALSE(parse_duration("18446744073709551616ms").has_value());
  CHECK_FALSE(parse_duration("9223372036854775808ms").has_value());  // INT64_MAX + 1
  CHECK(parse_duration("9223372036854775807ms") == duration{9223372036854775807});
  CHECK_FALSE(parse_duration("9223372036854776s").has_value());  // fits uint64, not int64 ms
  CHECK_FALSE(parse_duration("2562047788015216h").has_value());
}

TEST_CASE("parse_size accepts bytes and binary or decimal units") {
  CHECK(parse_size("512") == 512u);
  CHECK(parse_size("512B") == 512u);
  CHECK(parse_size("16KiB") == 16u * 1024);
  CHECK(parse_size("10MiB") == 10u * 1024 * 1024);
  CHECK(parse_size("1GiB") == 1024u * 1024 * 1024);
  CHECK(parse_size("2KB") == 2000u);
  CHECK(parse_size("3MB") == 3'000'000u);
  CHECK(parse_size("4GB") == 4'000'000'000u);
  CHECK(parse_size("0") == 0u);  // parses; "> 0" is a validation rule
}

TEST_CASE("parse_size rejects malformed text and overflow") {
  for (const char* bad :
       {"", "KiB", "1.5MiB", "-1", "16kib", "16 KiB", "16K", "16TiB", "1e3", "0x10", " 16"}) {
    INFO(bad);
    CHECK_FALSE(parse_size(bad).has_value());
  }
  CHECK_FALSE(parse_size("99999999999999999999").has_value());
  CHECK_FALSE(parse_size("17179869184GiB").has_value());  // 2^34 GiB = 2^64 bytes
  CHECK(parse_size("17179869183GiB").has_value());
}

TEST_CASE("parse_host_port reads IPv4 - DNS names and bracketed IPv6") {
  auto v4 = parse_host_port("127.0.0.1:8080");
  REQUIRE(v4);
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 8080);
  CHECK(v4->text == "127.0.0.1:8080");

  auto dns = parse_host_port("backend-1.svc.cluster.local:65535");
  REQUIRE(dns);
  CHECK(dns->host == "backend-1.svc.cluster.local");
  CHECK(dns->port == 65535);

  auto v6 = parse_host_port("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 80);
  CHECK(v6->text == "[::1]:80");

  auto any = parse_host_port("0.0.0.0:0");
  REQUIRE(any);
  CHECK(any->port == 0);
  CHECK(parse_host_port("localhost:1"));
}

TEST_CASE("parse_host_port rejects malformed addresses") {
  for (const char* bad : {"",
                          ":80",
                          "127.0.0.1",
                          "127.0.0.1:",
                          "127.0.0.1:65536",
                          "127.0.0.1:99999999999999999999",
                          "127.0.0.1:-1",
                          "127.0.0.1:8o",
                          "::1:80",
                          "[::1]80",
                          "[::1]",
                          "[::1:80",
                          "[nothost]:80",
                          "[]:80",
                          "a b:80",
                          "under_score:80",
                          "-lead.example:80",
                          "trail-.example:80",
                          "double..dot:80",
                          "1.2.3:80",
                          "999.1.1.1:80",
                          "ex*ample.com:80",
                          "host:80:90"}) {
    INFO(bad);
    CHECK_FALSE(parse_host_port(bad).has_value());
  }
}
