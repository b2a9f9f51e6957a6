// Restoring on start and from a peer: per-backend matching, and bad files set aside.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>

#include "checkpoint_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_file.hpp"
#include "tally/cluster/checkpoint_restore.hpp"

namespace tally::cluster {
namespace {

using test::temp_dir;
using testing::fixed_now;
namespace fs = std::filesystem;

checkpoint_backend backend(std::string address, std::uint32_t weight, bool drained, bool up) {
  checkpoint_backend b;
  b.address = std::move(address);
  b.weight = weight;
  b.drained = drained;
  b.verdict_up = up;
  b.verdict_since_ms = 1764134000000;
  return b;
}

checkpoint_state saved_state() {
  checkpoint_state state;
  state.node_id = "tally-a";
  state.config_hash = "old-config";
  state.hlc = {1764134100000, 2};
  state.written_at_ms = 1764134100500;
  auto a = backend("10.0.0.1:80", 7, false, true);
  a.admin_hlc = checkpoint_admin_stamp{1764134090000, 1, "tally-b"};
  state.pools.push_back(
      {"web", {a, backend("10.0.0.2:80", 1, true, true), backend("10.0.0.3:80", 1, false, false)}});
  state.pools.push_back({"api", {backend("10.0.1.1:90", 2, true, false)}});
  return state;
}

checkpoint_config_table same_table() {
  return {{{"web", {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}}, {"api", {"10.0.1.1:90"}}}};
}

TEST_CASE("checkpoint restore: no file is not a failure") {
  temp_dir dir;
  const auto result = restore_checkpoint(dir / "state.json", same_table(), fixed_now());
  CHECK(result.status == checkpoint_restore_status::no_file);
  CHECK(result.backends.empty());
  CHECK_FALSE(result.moved_to);
}

TEST_CASE("checkpoint restore: every saved backend comes back when the config is the same") {
  temp_dir dir;
  const auto path = dir / "state.json";
  REQUIRE_FALSE(write_checkpoint_file(path, encode_checkpoint(saved_state())));
  const auto result = restore_checkpoint(path, same_table(), fixed_now());
  REQUIRE(result.status == checkpoint_restore_status::restored);
  CHECK(result.node_id == "tally-a");
  CHECK(result.config_hash == "old-config");  // differs from the running config: not a failure
  CHECK(result.hlc == checkpoint_hlc{1764134100000, 2});
  CHECK(result.written_at_ms == 1764134100500);
  CHECK(result.backends.size() == 4);
  CHECK(result.dropped == 0);
  CHECK(result.not_in_file == 0);

  const auto* a = result.find("web", "10.0.0.1:80");
  REQUIRE(a);
  CHECK(a->weight == 7);
  REQUIRE(a->admin_hlc);
  CHECK(a->admin_hlc->node == "tally-b");
  const auto* drained = result.find("web", "10.0.0.2:80");
  REQUIRE(drained);
  CHECK(drained->drained);
  const auto* down = result.find("web", "10.0.0.3:80");
  REQUIRE(down);
  CHECK_FALSE(down->verdict_up);
  CHECK(down->verdict_since_ms == 1764134000000);
  CHECK_FALSE(result.find("api", "10.0.0.1:80"));  // the pool is part of the key
  CHECK(fs::exists(path));
}

TEST_CASE("checkpoint restore: removed backends are dropped - new ones get no entry") {
  temp_dir dir;
  const auto path = dir / "state.json";
  REQUIRE_FALSE(write_checkpoint_file(path, encode_checkpoint(saved_state())));
  // 10.0.0.2 left web, pool api is gone, 10.0.0.9 and pool img are new.
  const checkpoint_config_table next{
      {{"web", {"10.0.0.3:80", "10.0.0.1:80", "10.0.0.9:80"}}, {"img", {"10.0.2.1:80"}}}};
  const auto result = restore_checkpoint(path, next, fixed_now());
  REQUIRE(result.status == checkpoint_restore_status::restored);
  REQUIRE(result.backends.size() == 2);
  CHECK(result.backends[0].saved.address == "10.0.0.3:80");  // config order
  CHECK(result.backends[1].saved.address == "10.0.0.1:80");
  CHECK(result.dropped == 2);
  CHECK(result.not_in_file == 2);
  CHECK_FALSE(result.find("web", "10.0.0.2:80"));
  CHECK_FALSE(result.find("web", "10.0.0.9:80"));
  CHECK_FALSE(result.find("api", "10.0.1.1:90"));
  CHECK(result.message.find("2 saved entries no longer configured") != std::string::npos);
}

TEST_CASE(
    "checkpoint restore: a corrupt file is reported, moved aside, and the next start is clean") {
  temp_dir dir;
  const auto path = dir / "state.json";
  const auto good = encode_checkpoint(saved_state());
  testing::write_whole_file(path, good.substr(0, good.size() / 2));

  const auto result = restore_checkpoint(path, same_table(), fixed_now());
  CHECK(result.status == checkpoint_restore_status::failure);
  CHECK(result.backends.empty());
  CHECK(result.message.find(path.string()) != std::string::npos);
  CHECK(result.message.find("not valid JSON") != std::string::npos);
  CHECK(result.message.find("starting from the config") != std::string::npos);
  REQUIRE(result.moved_to);
  CHECK(*result.moved_to == dir / "state.json.corrupt-20261126T051500Z");
  CHECK(result.message.find(result.moved_to->string()) != std::string::npos);
  CHECK(testing::read_whole_file(*result.moved_to) == good.substr(0, good.size() / 2));
  CHECK_FALSE(fs::exists(path));

  CHECK(restore_checkpoint(path, same_table(), fixed_now()).status ==
        checkpoint_restore_status::no_file);
}

TEST_CASE("checkpoint restore: wrong version - flipped byte and empty file are set aside too") {
  auto newer = saved_state();
  newer.format_version = 2;
  auto flipped = encode_checkpoint(saved_state());
  flipped[flipped.find("10.0.0.2")] = '9';
  const struct {
    std::string bytes;
    std::string reason;
  } cases[] = {
      {encode_checkpoint(newer), "format version 2 is not supported by this tally (expects 1)"},
      {flipped, "checksum mismatch"},
      {"", "the file is empty"},
  };
  for (const auto& c : cases) {
    temp_dir dir;
    const auto path = dir / "state.json";
    testing::write_whole_file(path, c.bytes);
    const auto result = restore_checkpoint(path, same_table(), fixed_now());
    CHECK(result.status == checkpoint_restore_status::failure);
    CHECK_MESSAGE(result.message.find(c.reason) != std::string::npos, result.message);
    CHECK(result.moved_to);
    CHECK_FALSE(fs::exists(path));
  }
}

TEST_CASE("checkpoint restore: an unreadable path fails but is left in place") {
  temp_dir dir;
  const auto path = dir / "state.json";
  fs::create_directory(path);  // reading a directory fails even for root
  const auto result = restore_checkpoint(path, same_table(), fixed_now());
  CHECK(result.status == checkpoint_restore_status::failure);
  CHECK_FALSE(result.moved_to);
  CHECK(fs::is_directory(path));
}

TEST_CASE("checkpoint restore: a peer's body is matched the same way") {
  const auto body = encode_checkpoint(saved_state());
  const checkpoint_config_table table{{{"web", {"10.0.0.2:80", "10.0.0.4:80"}}}};
  const auto result = restore_checkpoint_from_bytes(body, table);
  REQUIRE(result.status == checkpoint_restore_status::restored);
  REQUIRE(result.backends.size() == 1);
  CHECK(result.backends[0].pool == "web");
  CHECK(result.backends[0].saved.drained);
  CHECK(result.dropped == 3);
  CHECK(result.not_in_file == 1);

  const auto bad = restore_checkpoint_from_bytes(body.substr(0, 100), table);
  CHECK(bad.status == checkpoint_restore_status::failure);
  CHECK(bad.message.find("checkpoint from peer rejected: not valid JSON") == 0);
}

TEST_CASE("checkpoint restore: a backend listed twice is restored once") {
  auto state = saved_state();
  state.pools[0].backends.push_back(backend("10.0.0.1:80", 99, true, false));
  const checkpoint_config_table table{{{"web", {"10.0.0.1:80", "10.0.0.1:80"}}}};
  const auto result = match_checkpoint(state, table);
  REQUIRE(result.backends.size() == 1);
  CHECK(result.backends[0].saved.weight == 7);  // the first saved entry
  CHECK(result.not_in_file == 1);
}

TEST_CASE("checkpoint restore: an admin stamp far ahead of the clock is refused and set aside") {
  using namespace std::chrono_literals;
  temp_dir dir;
  const auto path = dir / "state.json";
  auto state = saved_state();
  // A drain stamped a year after "now": restored, it would win against every later enable.
  const auto now_ms = std::uint64_t(
      std::chrono::duration_cast<std::chrono::milliseconds>(fixed_now().time_since_epoch())
          .count());
  state.pools[0].backends[1].admin_hlc =
      checkpoint_admin_stamp{now_ms + 365ull * 24 * 3600 * 1000, 0, "tally-b"};
  REQUIRE_FALSE(write_checkpoint_file(path, encode_checkpoint(state)));
  const auto result = restore_checkpoint(path, same_table(), fixed_now(), 500ms);
  CHECK(result.status == checkpoint_restore_status::failure);
  CHECK(result.message.find("pools[0].backends[1].admin_hlc.physical_ms") != std::string::npos);
  CHECK(result.message.find("ahead of this replica's clock") != std::string::npos);
  CHECK(result.backends.empty());
  REQUIRE(result.moved_to);
  CHECK_FALSE(fs::exists(path));

  // Within the offset is fine; the default bound applies without one.
  state.pools[0].backends[1].admin_hlc = checkpoint_admin_stamp{now_ms + 500, 0, "tally-b"};
  REQUIRE_FALSE(write_checkpoint_file(path, encode_checkpoint(state)));
  CHECK(restore_checkpoint(path, same_table(), fixed_now()).status ==
        checkpoint_restore_status::restored);
  state.hlc = {now_ms + 501, 0};
  CHECK(check_checkpoint_clock(state, fixed_now(), 500ms)->find("hlc.physical_ms") == 0);
}

TEST_CASE("checkpoint restore: a peer's body with out-of-range values is refused") {
  using namespace std::chrono_literals;
  auto state = saved_state();
  state.hlc = {std::uint64_t(INT64_MAX), 0};
  const auto poisoned =
      restore_checkpoint_from_bytes(encode_checkpoint(state), same_table(), fixed_now(), 500ms);
  CHECK(poisoned.status == checkpoint_restore_status::failure);
  CHECK(poisoned.message.find("checkpoint from peer rejected: hlc.physical_ms") == 0);

  state = saved_state();
  state.pools[0].backends[0].weight = 4'000'000'000u;  // the API allows 0..1000
  const auto heavy =
      restore_checkpoint_from_bytes(encode_checkpoint(state), same_table(), fixed_now(), 500ms);
  CHECK(heavy.status == checkpoint_restore_status::failure);
  CHECK(heavy.message.find("weight: value 4000000000 is too large") != std::string::npos);

  const auto huge = restore_checkpoint_from_bytes(std::string(max_checkpoint_bytes + 1, ' '),
                                                  same_table(), fixed_now(), 500ms);
  CHECK(huge.status == checkpoint_restore_status::failure);
  CHECK(huge.message.find("too large") != std::string::npos);
}

}  // namespace
}  // namespace tally::cluster
