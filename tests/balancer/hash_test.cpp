#include <doctest/doctest.h>

#include "tally/balancer/hash.hpp"

using namespace tally::balancer;
using tally::config::hash_key_config;

TEST_CASE("hash_bytes is stable and discriminating") {
  // Pinned: replicas and restarts must agree on every key's backend.
  CHECK(hash_bytes("") == hash_bytes(""));
  CHECK(hash_bytes("10.0.0.1") == hash_bytes(std::string("10.0.0.1")));
  CHECK(hash_bytes("10.0.0.1") != hash_bytes("10.0.0.2"));
  CHECK(hash_bytes("") != hash_bytes(std::string_view("\0", 1)));
  CHECK(hash_bytes("a", 1) != hash_bytes("a", 2));
  CHECK(hash_bytes("a") == hash_bytes("a", 0));
  CHECK(hash_bytes("abc") == 0xec56ac5ddf8b1126ULL);
}

TEST_CASE("find_cookie reads one cookie from a Cookie header") {
  CHECK(find_cookie("a=1; session=xyz; b=2", "session") == "xyz");
  CHECK(find_cookie("session=xyz", "session") == "xyz");
  CHECK(find_cookie("a=1;session=\"q\"", "session") == "q");
  CHECK(find_cookie("a=1; sessionx=2", "session") == std::nullopt);
  CHECK(find_cookie("", "session") == std::nullopt);
  CHECK(find_cookie("session=", "session") == "");
}

TEST_CASE("hash_key hashes what the pool names - else the client IP") {
  const hash_source with_all{"192.0.2.7", "user-42", "sid=abc; x=1"};
  const hash_source bare{"192.0.2.7", std::nullopt, std::nullopt};

  hash_key_config ip;
  CHECK(hash_key(ip, with_all) == hash_bytes("192.0.2.7"));

  hash_key_config header{hash_key_config::source::header, "X-User"};
  CHECK(hash_key(header, with_all) == hash_bytes("user-42"));
  CHECK(hash_key(header, bare) == hash_bytes("192.0.2.7"));

  hash_key_config cookie{hash_key_config::source::cookie, "sid"};
  CHECK(hash_key(cookie, with_all) == hash_bytes("abc"));
  CHECK(hash_key(cookie, bare) == hash_bytes("192.0.2.7"));
  hash_key_config missing{hash_key_config::source::cookie, "nope"};
  CHECK(hash_key(missing, with_all) == hash_bytes("192.0.2.7"));
}
