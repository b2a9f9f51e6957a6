#include <doctest/doctest.h>

#include <string>

#include "tally/cluster/message.hpp"

using namespace tally::cluster;

namespace {

votes_message sample() {
  votes_message m;
  m.from = {"lb-1", 0xfedcba9876543210ull, 42};
  m.hlc = {1'700'000'000'000, 3, "lb-1"};
  m.votes = {{{"web", "127.0.0.1:9001"}, true, 1'700'000'000'000},
             {{"web", "127.0.0.1:9002"}, false, 1'699'999'999'000}};
  m.changes = {
      {{"web", "127.0.0.1:9002"}, change_field::drained, 1, {1'700'000'000'000, 1, "lb-2"}},
      {{"web", "127.0.0.1:9001"}, change_field::weight, 7, {1'700'000'000'001, 0, "lb-1"}}};
  return m;
}

std::string with(std::string body, const std::string& from, const std::string& to) {
  auto pos = body.find(from);
  REQUIRE(pos != std::string::npos);
  return body.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("message: encode then decode gives the same message") {
  auto m = sample();
  auto d = decode_votes_message(encode(m));
  REQUIRE_MESSAGE(d.message, d.error);
  CHECK(d.message->from.node == "lb-1");
  CHECK(d.message->from.incarnation == 0xfedcba9876543210ull);
  CHECK(d.message->from.seq == 42);
  CHECK(d.message->hlc == m.hlc);
  REQUIRE(d.message->votes.size() == 2);
  CHECK(d.message->votes[1].key == m.votes[1].key);
  CHECK(d.message->votes[1].up == false);
  CHECK(d.message->votes[1].since_ms == 1'699'999'999'000);
  CHECK(d.message->changes == m.changes);
}

TEST_CASE("message: garbage and wrong shapes are decode errors with a reason") {
  for (std::string body :
       {"", "not json", "{", "[]", "null", "{\"node\": \"a\"}", "{\"a\":1}{\"b\":2}", "\xff\xfe"}) {
    auto d = decode_votes_message(body);
    CHECK_FALSE(d.message);
    CHECK_FALSE(d.error.empty());
  }
}

TEST_CASE("message: wrong types are rejected field by field") {
  const std::string good = encode(sample());
  const std::pair<std::string, std::string> edits[] = {
      {R"("node":"lb-1")", R"("node":1)"},
      {R"("node":"lb-1")", R"("node":"")"},
      {R"("incarnation":"fedcba9876543210")", R"("incarnation":18364758544493064720)"},
      {R"("incarnation":"fedcba9876543210")", R"("incarnation":"xyz")"},
      {R"("seq":42)", R"("seq":-1)"},
      {R"("seq":42)", R"("seq":"42")"},
      {R"("seq":42)", R"("seq":4.2)"},
      {R"("up":true)", R"("up":"true")"},
      {R"("up":false)", R"("up":0)"},
      {R"("since_ms":1700000000000)", R"("since_ms":null)"},
      {R"("pool":"web")", R"("pool":["web"])"},
      {R"("field":"drained")", R"("field":"colour")"},
      {R"("value":true)", R"("value":1)"},
      {R"("value":7)", R"("value":-7)"},
      {R"("value":7)", R"("value":4294967296)"},
      {R"("votes":[)", R"("votes":{"x":[)"},
  };
  for (const auto& [from, to] : edits) {
    CAPTURE(to);
    auto d = decode_votes_message(with(good, from, to));
    CHECK_FALSE(d.message);
    CHECK_FALSE(d.error.empty());
  }
  // Sanity: the untouched body decodes, and unknown keys are tolerated.
  CHECK(decode_votes_message(good).message);
  CHECK(decode_votes_message(with(good, R"("seq":42)", R"("seq":42,"future":{"x":1})")).message);
}

TEST_CASE("message: size limits") {
  votes_message m = sample();
  SUBCASE("a body over 256 KiB") {
    std::string body = encode(m);
    body.insert(body.size() - 1, ",\"pad\":\"" + std::string(256 * 1024, 'x') + "\"");
    auto d = decode_votes_message(body);
    CHECK_FALSE(d.message);
    CHECK(d.error.find("256 KiB") != std::string::npos);
  }
  SUBCASE("more than 10000 votes") {
    // 10001 votes never fit in 256 KiB, so either limit may be the one that refuses them.
    m.votes.assign(10001, {{"p", "b"}, true, 0});
    CHECK_FALSE(decode_votes_message(encode(m)).message);
    // Thousands of realistic votes do fit.
    m.votes.assign(3000, {{"web", "127.0.0.1:9001"}, true, 1'700'000'000'000});
    auto body = encode(m);
    CHECK(body.size() < message_limits::max_body_bytes);
    auto d = decode_votes_message(body);
    REQUIRE_MESSAGE(d.message, d.error);
    CHECK(d.message->votes.size() == 3000);
  }
  SUBCASE("strings over 512 bytes") {
    m.votes[0].key.backend = std::string(513, 'b');
    CHECK_FALSE(decode_votes_message(encode(m)).message);
    m.votes[0].key.backend = std::string(512, 'b');
    CHECK(decode_votes_message(encode(m)).message);
    m.from.node = std::string(513, 'n');
    CHECK_FALSE(decode_votes_message(encode(m)).message);
  }
  SUBCASE("deep nesting") {
    std::string body = encode(m);
    body.insert(body.size() - 1, ",\"deep\":" + std::string(100, '[') + std::string(100, ']'));
    CHECK_FALSE(decode_votes_message(body).message);
  }
}
