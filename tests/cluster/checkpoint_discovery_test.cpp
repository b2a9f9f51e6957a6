// The discovered sets in a checkpoint: round trip, files from before the key, and the range
// checks that keep a damaged or hostile file from adding backends tally would never accept.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "checkpoint_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_restore.hpp"

namespace tally::cluster {
namespace {

using testing::sample_state;
using testing::with_checksum;
namespace json = boost::json;

checkpoint_state discovered_state() {
  auto state = sample_state(3, 2);
  state.pools[0].discovery =
      checkpoint_discovery{"etcd", 42, {{"10.0.0.1:8080", 5}, {"backend-2.internal:8080", 0}}};
  state.pools[1].discovery = checkpoint_discovery{"dns", 0, {{"[::1]:8080", 1000}}};
  // pools[2] has no discovered set.
  return state;
}

TEST_CASE("checkpoint discovery: discovered sets survive encode and decode unchanged") {
  auto state = discovered_state();
  // The largest revision etcd can have, and a source that found nothing.
  state.pools[0].discovery->revision = INT64_MAX;
  state.pools[2].discovery = checkpoint_discovery{"etcd", 7, {}};
  const auto bytes = encode_checkpoint(state);
  const auto decoded = decode_checkpoint(bytes);
  REQUIRE_MESSAGE(decoded, decoded.error);
  CHECK(*decoded.state == state);
  CHECK(encode_checkpoint(*decoded.state) == bytes);
  // The documented layout: after the pool's backends, source, revision, address and weight.
  const auto pool = json::parse(bytes).at("pools").at(0).as_object();
  std::vector<std::string> keys;
  for (const auto& member : pool)
    keys.emplace_back(member.key());
  CHECK(keys == std::vector<std::string>{"name", "backends", "discovery"});
  CHECK(
      json::serialize(pool.at("discovery")) ==
      R"({"source":"etcd","revision":9223372036854775807,"backends":[)"
      R"({"address":"10.0.0.1:8080","weight":5},{"address":"backend-2.internal:8080","weight":0}]})");
}

TEST_CASE("checkpoint discovery: a pool without a set has no key - files from before it load") {
  const auto plain = sample_state(2, 2);
  CHECK(encode_checkpoint(plain).find("discovery") == std::string::npos);
  // A file the previous encoder wrote (the fuzz seed, committed before the key existed).
  const auto old_file = testing::read_whole_file(std::filesystem::path(TALLY_SOURCE_DIR) /
                                                 "tests/fuzz/corpus/checkpoint/two_pools.json");
  REQUIRE(old_file.find("\"checksum\"") != std::string::npos);
  CHECK(old_file.find("discovery") == std::string::npos);
  const auto decoded = decode_checkpoint(old_file);
  REQUIRE_MESSAGE(decoded, decoded.error);
  REQUIRE(decoded.state->pools.size() == 2);
  for (const auto& pool : decoded.state->pools)
    CHECK_FALSE(pool.discovery.has_value());
  // Encoding it again gives the same bytes: its checksum did not change meaning.
  CHECK(encode_checkpoint(*decoded.state) == old_file);
}

TEST_CASE("checkpoint discovery: out-of-range values are refused with the place and the reason") {
  const auto good = json::parse(encode_checkpoint(discovered_state())).as_object();
  auto discovery = [](json::object& doc) -> json::object& {
    return doc["pools"].as_array()[0].as_object()["discovery"].as_object();
  };
  auto backend = [&](json::object& doc) -> json::object& {
    return discovery(doc)["backends"].as_array()[1].as_object();
  };
  auto expect = [&](auto change, const std::string& message) {
    auto doc = good;
    change(doc);
    const auto decoded = decode_checkpoint(with_checksum(doc));
    CHECK_MESSAGE(!decoded, "accepted, expected: " << message);
    CHECK(decoded.error == message);
  };
  expect([&](json::object& d) { discovery(d)["source"] = "consul"; },
         R"(pools[0].discovery.source: expected "etcd" or "dns", got "consul")");
  expect([&](json::object& d) { discovery(d)["source"] = 1; },
         "pools[0].discovery.source: expected a string");
  expect([&](json::object& d) { discovery(d)["revision"] = -1; },
         "pools[0].discovery.revision: expected a non-negative integer");
  expect([&](json::object& d) { discovery(d)["revision"] = 9223372036854775808ull; },
         "pools[0].discovery.revision: value 9223372036854775808 is too large (at most "
         "9223372036854775807)");
  expect([&](json::object& d) { discovery(d)["revision"] = "42"; },
         "pools[0].discovery.revision: expected a non-negative integer");
  expect([&](json::object& d) { backend(d)["weight"] = 1001; },
         "pools[0].discovery.backends[1].weight: value 1001 is too large (at most 1000)");
  expect([&](json::object& d) { backend(d)["weight"] = -3; },
         "pools[0].discovery.backends[1].weight: expected a non-negative integer");
  expect(
      [&](json::object& d) { backend(d)["address"] = "10.0.0.9"; },
      R"(pools[0].discovery.backends[1].address: "10.0.0.9" is not host:port with a port from 1 to 65535)");
  expect(
      [&](json::object& d) { backend(d)["address"] = "10.0.0.9:0"; },
      R"(pools[0].discovery.backends[1].address: "10.0.0.9:0" is not host:port with a port from 1 to 65535)");
  expect(
      [&](json::object& d) { backend(d)["address"] = "10.0.0.9:65536"; },
      R"(pools[0].discovery.backends[1].address: "10.0.0.9:65536" is not host:port with a port from 1 to 65535)");
  expect(
      [&](json::object& d) { backend(d)["address"] = "bad host!:80"; },
      R"(pools[0].discovery.backends[1].address: "bad host!:80" is not host:port with a port from 1 to 65535)");
  expect([&](json::object& d) { backend(d)["address"] = std::string(513, 'a'); },
         "pools[0].discovery.backends[1].address: longer than 512 bytes");
  expect([&](json::object& d) { backend(d)["address"] = "10.0.0.1:8080"; },
         R"(pools[0].discovery.backends[1].address: repeats "10.0.0.1:8080")");
  expect([&](json::object& d) { backend(d)["key"] = "/tally/web/b1"; },
         R"(pools[0].discovery.backends[1]: unknown field "key")");
  expect([&](json::object& d) { backend(d).erase("weight"); },
         R"(pools[0].discovery.backends[1]: missing field "weight")");
  expect([&](json::object& d) { discovery(d).erase("revision"); },
         R"(pools[0].discovery: missing field "revision")");
  expect([&](json::object& d) { discovery(d)["backends"] = json::object{}; },
         "pools[0].discovery.backends: expected an array");
  expect([&](json::object& d) { d["pools"].as_array()[0].as_object()["discovery"] = nullptr; },
         "pools[0].discovery: expected an object");
  expect([&](json::object& d) { d["pools"].as_array()[0].as_object()["discovered"] = 1; },
         R"(pools[0]: unknown field "discovered")");
}

TEST_CASE("checkpoint discovery: every single flipped byte in a discovered set is detected") {
  const auto state = discovered_state();
  const auto bytes = encode_checkpoint(state);
  const auto from = bytes.find("\"discovery\"");
  REQUIRE(from != std::string::npos);
  const auto to = bytes.find(']', from);
  for (std::size_t i = from; i <= to; ++i) {
    auto damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
    const auto decoded = decode_checkpoint(damaged);
    if (decoded) {
      CHECK_MESSAGE(*decoded.state == state, "byte " << i << " changed the content unnoticed");
    } else {
      CHECK(!decoded.error.empty());
    }
  }
}

TEST_CASE("checkpoint discovery: load_checkpoint hands over the sets before matching") {
  test::temp_dir dir;
  const auto path = dir / "state.json";
  const auto state = discovered_state();
  testing::write_whole_file(path, encode_checkpoint(state));
  const auto now =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(state.written_at_ms));
  const auto loaded = load_checkpoint(path, now, std::chrono::milliseconds(500));
  REQUIRE_MESSAGE(loaded.state, loaded.message);
  CHECK(loaded.status == checkpoint_restore_status::restored);
  CHECK(loaded.state->pools[0].discovery == state.pools[0].discovery);
  // The table built afterwards holds a discovered address: its saved entry matches.
  checkpoint_config_table table{{{"web", {"10.0.0.1:8080"}}}};
  const auto restored = match_checkpoint(loaded, table);
  REQUIRE(restored.status == checkpoint_restore_status::restored);
  REQUIRE(restored.find("web", "10.0.0.1:8080") != nullptr);
  CHECK(restored.find("web", "10.0.0.1:8080")->weight == state.pools[0].backends[0].weight);

  // No file, and a damaged file, come through match unchanged.
  const auto missing = match_checkpoint(load_checkpoint(dir / "none.json", now, {}), table);
  CHECK(missing.status == checkpoint_restore_status::no_file);
  testing::write_whole_file(path, "{");
  const auto bad = load_checkpoint(path, now, std::chrono::milliseconds(500));
  CHECK_FALSE(bad.state);
  CHECK(bad.moved_to.has_value());
  const auto bad_match = match_checkpoint(bad, table);
  CHECK(bad_match.status == checkpoint_restore_status::failure);
  CHECK(bad_match.message == bad.message);
}

}  // namespace
}  // namespace tally::cluster
