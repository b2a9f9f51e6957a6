// The file format: round trip, the documented checksum, and damage of every kind failing cleanly.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "checkpoint_fixtures.hpp"
#include "tally/cluster/checkpoint_codec.hpp"

namespace tally::cluster {
namespace {

using testing::independent_sha256_hex;
using testing::sample_state;
using testing::with_checksum;
namespace json = boost::json;

json::object parsed(const std::string& bytes) {
  return json::parse(bytes).as_object();
}

bool is_json_whitespace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

TEST_CASE("checkpoint codec: a state survives encode and decode unchanged") {
  auto state = sample_state(3, 5);
  state.node_id = "node \"quoted\" \\ back-slashed \xc3\xa9";  // escapes and UTF-8
  state.pools[0].backends[0].admin_hlc.reset();
  // The largest values the format allows: an HLC millisecond is an int64.
  state.pools[0].backends[1].admin_hlc = checkpoint_admin_stamp{std::uint64_t(INT64_MAX), ~0u, "n"};
  state.pools[1].backends.clear();

  const auto bytes = encode_checkpoint(state);
  const auto decoded = decode_checkpoint(bytes);
  REQUIRE_MESSAGE(decoded, decoded.error);
  CHECK(*decoded.state == state);
  CHECK(encode_checkpoint(*decoded.state) == bytes);
}

TEST_CASE("checkpoint codec: the checksum is SHA-256 of the compact content without it") {
  const auto bytes = encode_checkpoint(sample_state());
  auto doc = parsed(bytes);
  const std::string stored(doc.at("checksum").as_string());
  doc.erase("checksum");
  CHECK(stored == independent_sha256_hex(json::serialize(doc)));
  CHECK(stored == checkpoint_checksum(sample_state()));
  CHECK(stored.size() == 64);

  // The documented key order.
  std::vector<std::string> keys;
  for (const auto& member : parsed(bytes))
    keys.emplace_back(member.key());
  CHECK(keys == std::vector<std::string>{"format_version", "node_id", "config_hash", "hlc",
                                         "written_at_ms", "pools", "checksum"});
}

TEST_CASE("checkpoint codec: one backend per line - and layout does not matter") {
  const auto state = sample_state(1, 4);
  const auto bytes = encode_checkpoint(state);
  std::size_t backend_lines = 0;
  for (std::size_t at = 0; (at = bytes.find("\n        {\"address\": ", at)) != std::string::npos;
       ++at)
    ++backend_lines;
  CHECK(backend_lines == 4);
  CHECK(bytes.back() == '\n');

  const auto compact = json::serialize(json::parse(bytes));  // same values, no whitespace
  const auto decoded = decode_checkpoint(compact);
  REQUIRE_MESSAGE(decoded, decoded.error);
  CHECK(*decoded.state == state);
}

TEST_CASE("checkpoint codec: every truncation of a valid file fails cleanly") {
  const auto bytes = encode_checkpoint(sample_state(2, 3));
  const auto last_brace = bytes.rfind('}');
  std::size_t failures = 0;
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const auto decoded = decode_checkpoint(std::string_view(bytes).substr(0, length));
    if (length <= last_brace) {
      CHECK_MESSAGE(!decoded, "prefix of " << length << " bytes decoded");
      CHECK(!decoded.error.empty());
      ++failures;
    } else {
      CHECK(decoded);  // only the trailing newline is missing
    }
  }
  CHECK(failures == last_brace + 1);
  MESSAGE("truncations tried: " << bytes.size() << ", all failing before the final '}'");
}

TEST_CASE("checkpoint codec: every single flipped byte is detected") {
  const auto state = sample_state(2, 3);
  const auto bytes = encode_checkpoint(state);
  std::size_t tried = 0, failed = 0, harmless = 0;
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (unsigned char mask : {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff}) {
      auto damaged = bytes;
      damaged[at] = static_cast<char>(damaged[at] ^ mask);
      const auto decoded = decode_checkpoint(damaged);
      ++tried;
      if (!decoded) {
        ++failed;
        CHECK(!decoded.error.empty());
        continue;
      }
      // Only whitespace turned into other whitespace may pass, with the content untouched.
      const bool whitespace_swap = is_json_whitespace(bytes[at]) && is_json_whitespace(damaged[at]);
      CHECK_MESSAGE(whitespace_swap, "flip at " << at << " mask " << int(mask) << " accepted");
      CHECK(*decoded.state == state);
      ++harmless;
    }
  }
  MESSAGE("flipped bytes tried: " << tried << ", rejected: " << failed
                                  << ", whitespace-only: " << harmless);
}

TEST_CASE("checkpoint codec: a checksum mismatch is reported as such") {
  auto doc = parsed(encode_checkpoint(sample_state()));
  doc["node_id"] = "tally-z";  // valid value, stale checksum
  const auto decoded = decode_checkpoint(json::serialize(doc));
  REQUIRE(!decoded);
  CHECK(decoded.error == "checksum mismatch: the file was changed or only partly written");
}

TEST_CASE("checkpoint codec: another format version is refused with a clear message") {
  auto state = sample_state();
  state.format_version = 7;
  const auto decoded = decode_checkpoint(encode_checkpoint(state));
  REQUIRE(!decoded);
  CHECK(decoded.error == "format version 7 is not supported by this tally (expects 1)");
}

TEST_CASE("checkpoint codec: unparsable input fails without throwing") {
  for (std::string bytes : std::initializer_list<std::string>{
           "", "hello", "{", "[]", "null", "42", "{}", "{\"format_version\": 1}",
           "{\"format_version\": \"1\"}", std::string("\0\0\0", 3), std::string(1000, '[')}) {
    const auto decoded = decode_checkpoint(bytes);
    CHECK_MESSAGE(!decoded, "accepted: " << bytes);
    CHECK(!decoded.error.empty());
  }
  CHECK(decode_checkpoint("").error == "the file is empty");
  CHECK(decode_checkpoint("{").error.find("not valid JSON") == 0);
  CHECK(decode_checkpoint("{}").error == "missing field \"format_version\"");
  CHECK(decode_checkpoint(std::string(max_checkpoint_bytes + 1, ' ')).error.find("too large") == 0);
  // 4 MiB holds ~20,000 backends: far more than a cluster gossips about, far less than 64 MiB.
  CHECK(max_checkpoint_bytes == 4u << 20);
  CHECK(encode_checkpoint(testing::sample_state(10, 1000)).size() < max_checkpoint_bytes);
}

TEST_CASE("checkpoint codec: wrong types and missing or unknown fields name the place") {
  const auto good = parsed(encode_checkpoint(sample_state()));
  auto backend = [](json::object& doc) -> json::object& {
    return doc["pools"].as_array()[0].as_object()["backends"].as_array()[1].as_object();
  };
  auto expect = [&](auto change, const std::string& message) {
    auto doc = good;
    change(doc);
    const auto decoded = decode_checkpoint(with_checksum(doc));
    CHECK_MESSAGE(!decoded, "accepted, expected: " << message);
    CHECK(decoded.error == message);
  };
  expect([&](json::object& d) { backend(d)["weight"] = "5"; },
         "pools[0].backends[1].weight: expected a non-negative integer");
  expect([&](json::object& d) { backend(d)["weight"] = -1; },
         "pools[0].backends[1].weight: expected a non-negative integer");
  expect([&](json::object& d) { backend(d)["weight"] = 4294967296ll; },
         "pools[0].backends[1].weight: value 4294967296 is too large (at most 1000)");
  // The admin API and the config allow 0..1000; a checkpoint may not claim more.
  expect([&](json::object& d) { backend(d)["weight"] = 1001; },
         "pools[0].backends[1].weight: value 1001 is too large (at most 1000)");
  // An HLC millisecond must fit the int64 the clock keeps it in.
  expect(
      [&](json::object& d) {
        backend(d)["admin_hlc"] =
            json::object{{"physical_ms", 18446744073709551615ull}, {"logical", 0}, {"node", "x"}};
      },
      "pools[0].backends[1].admin_hlc.physical_ms: value 18446744073709551615 is too large (at "
      "most 9223372036854775807)");
  expect([&](json::object& d) { d["hlc"].as_object()["physical_ms"] = 9223372036854775808ull; },
         "hlc.physical_ms: value 9223372036854775808 is too large (at most 9223372036854775807)");
  expect(
      [&](json::object& d) {
        backend(d)["admin_hlc"] = json::object{{"physical_ms", 1}, {"logical", 0}, {"node", ""}};
      },
      "pools[0].backends[1].admin_hlc.node: expected a node id, got an empty string");
  expect([&](json::object& d) { backend(d)["address"] = std::string(513, 'a'); },
         "pools[0].backends[1].address: longer than 512 bytes");
  expect([&](json::object& d) { backend(d)["weight"] = 1.5; },
         "pools[0].backends[1].weight: expected a non-negative integer");
  expect([&](json::object& d) { backend(d)["drained"] = 1; },
         "pools[0].backends[1].drained: expected true or false");
  expect([&](json::object& d) { backend(d).erase("verdict_up"); },
         "pools[0].backends[1]: missing field \"verdict_up\"");
  expect([&](json::object& d) { backend(d)["extra"] = true; },
         "pools[0].backends[1]: unknown field \"extra\"");
  expect(
      [&](json::object& d) {
        backend(d)["admin_hlc"] = json::object{{"physical_ms", 1}};
      },
      "pools[0].backends[1].admin_hlc: missing field \"logical\"");
  expect([&](json::object& d) { backend(d)["admin_hlc"] = 3; },
         "pools[0].backends[1].admin_hlc: expected an object");
  expect([&](json::object& d) { d["pools"] = json::object{}; }, "pools: expected an array");
  expect([&](json::object& d) { d["hlc"].as_object()["logical"] = "x"; },
         "hlc.logical: expected a non-negative integer");
  expect([&](json::object& d) { d.erase("node_id"); }, "missing field \"node_id\"");
  expect([&](json::object& d) { d["written_at_ms"] = "now"; },
         "written_at_ms: expected an integer");

  auto doc = good;
  doc["checksum"] = 5;
  CHECK(decode_checkpoint(json::serialize(doc)).error == "checksum: expected a string");
  doc.erase("checksum");
  CHECK(decode_checkpoint(json::serialize(doc)).error == "missing field \"checksum\"");
}

}  // namespace
}  // namespace tally::cluster
