#include "tally/cluster/checkpoint_codec.hpp"

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <set>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "checkpoint_pretty.hpp"
#include "tally/config/load.hpp"
#include "tally/config/sha256.hpp"

namespace tally::cluster {
namespace json = boost::json;

namespace {

// ---- encoding ---------------------------------------------------------------------------------

json::value hlc_value(const checkpoint_hlc& hlc) {
  return json::object{{"physical_ms", hlc.physical_ms}, {"logical", hlc.logical}};
}

json::value admin_value(const std::optional<checkpoint_admin_stamp>& stamp) {
  if (!stamp) return nullptr;
  return json::object{
      {"physical_ms", stamp->physical_ms}, {"logical", stamp->logical}, {"node", stamp->node}};
}

json::value backend_value(const checkpoint_backend& b) {
  // json::object keeps insertion order, which is what makes the canonical form stable.
  json::object out;
  out["address"] = b.address;
  out["weight"] = b.weight;
  out["drained"] = b.drained;
  out["verdict_up"] = b.verdict_up;
  out["verdict_since_ms"] = b.verdict_since_ms;
  out["admin_hlc"] = admin_value(b.admin_hlc);
  return out;
}

json::value discovery_value(const checkpoint_discovery& d) {
  json::array backends;
  backends.reserve(d.backends.size());
  for (const auto& b : d.backends)
    backends.push_back(json::object{{"address", b.address}, {"weight", b.weight}});
  json::object out;
  out["source"] = d.source;
  out["revision"] = d.revision;
  out["backends"] = std::move(backends);
  return out;
}

// Everything but the checksum, in file order.
json::object content_object(const checkpoint_state& state) {
  json::array pools;
  pools.reserve(state.pools.size());
  for (const auto& pool : state.pools) {
    json::array backends;
    backends.reserve(pool.backends.size());
    for (const auto& b : pool.backends)
      backends.push_back(backend_value(b));
    json::object p;
    p["name"] = pool.name;
    p["backends"] = std::move(backends);
    // Only pools with a discovered set carry the key, so a file without one reads (and sums)
    // exactly as before the key existed.
    if (pool.discovery) p["discovery"] = discovery_value(*pool.discovery);
    pools.push_back(std::move(p));
  }
  json::object out;
  out["format_version"] = state.format_version;
  out["node_id"] = state.node_id;
  out["config_hash"] = state.config_hash;
  out["hlc"] = hlc_value(state.hlc);
  out["written_at_ms"] = state.written_at_ms;
  out["pools"] = std::move(pools);
  return out;
}

// ---- decoding ---------------------------------------------------------------------------------
// A schema error unwinds to decode_checkpoint, which turns it into a message; it never leaves
// this file. The path ("pools[1].backends[4].weight") tells an operator where the file is bad.

struct schema_error {
  std::string message;
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw schema_error{where.empty() ? what : where + ": " + what};
}

std::string join(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

const json::object& as_object(const json::value& v, const std::string& where) {
  if (!v.is_object()) fail(where, "expected an object");
  return v.get_object();
}

// Rejects unknown keys too: in a machine-written file an unexpected key is damage, and the
// checksum (recomputed from known keys only) would not notice it otherwise. `optional` keys may
// be absent.
void expect_keys(const json::object& obj, std::initializer_list<std::string_view> keys,
                 const std::string& where, std::initializer_list<std::string_view> optional = {}) {
  for (const auto& member : obj) {
    bool known = false;
    for (auto key : keys)
      known = known || member.key() == key;
    for (auto key : optional)
      known = known || member.key() == key;
    if (!known) fail(where, "unknown field \"" + std::string(member.key()) + "\"");
  }
  for (auto key : keys)
    if (!obj.contains(key)) fail(where, "missing field \"" + std::string(key) + "\"");
}

const json::value& field(const json::object& obj, std::string_view key) {
  return *obj.if_contains(key);  // expect_keys ran first
}

std::int64_t read_int64(const json::value& v, const std::string& where) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
    return std::int64_t(v.get_uint64());
  fail(where, "expected an integer");
}

std::uint64_t read_uint(const json::value& v, std::uint64_t max, const std::string& where) {
  std::uint64_t n = 0;
  if (v.is_uint64())
    n = v.get_uint64();
  else if (v.is_int64() && v.get_int64() >= 0)
    n = std::uint64_t(v.get_int64());
  else
    fail(where, "expected a non-negative integer");
  if (n > max)
    fail(where,
         "value " + std::to_string(n) + " is too large (at most " + std::to_string(max) + ")");
  return n;
}

std::uint32_t read_uint32(const json::value& v, const std::string& where) {
  return std::uint32_t(read_uint(v, std::numeric_limits<std::uint32_t>::max(), where));
}

bool read_bool(const json::value& v, const std::string& where) {
  if (!v.is_bool()) fail(where, "expected true or false");
  return v.get_bool();
}

std::string read_string(const json::value& v, const std::string& where) {
  if (!v.is_string()) fail(where, "expected a string");
  if (v.get_string().size() > checkpoint_max_string_bytes)
    fail(where, "longer than " + std::to_string(checkpoint_max_string_bytes) + " bytes");
  return std::string(v.get_string());
}

std::string read_node(const json::value& v, const std::string& where) {
  auto node = read_string(v, where);
  if (node.empty()) fail(where, "expected a node id, got an empty string");
  return node;
}

// The HLC keeps milliseconds in an int64: a larger value would turn negative when restored.
constexpr std::uint64_t max_hlc_ms = std::uint64_t(std::numeric_limits<std::int64_t>::max());

const json::array& read_array(const json::value& v, const std::string& where) {
  if (!v.is_array()) fail(where, "expected an array");
  return v.get_array();
}

checkpoint_hlc read_hlc(const json::value& v, const std::string& where) {
  const auto& obj = as_object(v, where);
  expect_keys(obj, {"physical_ms", "logical"}, where);
  return {read_uint(field(obj, "physical_ms"), max_hlc_ms, join(where, "physical_ms")),
          read_uint32(field(obj, "logical"), join(where, "logical"))};
}

std::optional<checkpoint_admin_stamp> read_admin(const json::value& v, const std::string& where) {
  if (v.is_null()) return std::nullopt;
  const auto& obj = as_object(v, where);
  expect_keys(obj, {"physical_ms", "logical", "node"}, where);
  return checkpoint_admin_stamp{
      read_uint(field(obj, "physical_ms"), max_hlc_ms, join(where, "physical_ms")),
      read_uint32(field(obj, "logical"), join(where, "logical")),
      read_node(field(obj, "node"), join(where, "node"))};
}

checkpoint_backend read_backend(const json::value& v, const std::string& where) {
  const auto& obj = as_object(v, where);
  expect_keys(obj, {"address", "weight", "drained", "verdict_up", "verdict_since_ms", "admin_hlc"},
              where);
  checkpoint_backend b;
  b.address = read_string(field(obj, "address"), join(where, "address"));
  b.weight =
      std::uint32_t(read_uint(field(obj, "weight"), checkpoint_max_weight, join(where, "weight")));
  b.drained = read_bool(field(obj, "drained"), join(where, "drained"));
  b.verdict_up = read_bool(field(obj, "verdict_up"), join(where, "verdict_up"));
  b.verdict_since_ms = read_int64(field(obj, "verdict_since_ms"), join(where, "verdict_since_ms"));
  b.admin_hlc = read_admin(field(obj, "admin_hlc"), join(where, "admin_hlc"));
  return b;
}

// A discovered backend becomes a backend of the routing table on restore, with no config entry
// behind it: its address and weight are held to what the config and a discovery source allow.
checkpoint_discovered_backend read_discovered_backend(const json::value& v,
                                                      const std::string& where) {
  const auto& obj = as_object(v, where);
  expect_keys(obj, {"address", "weight"}, where);
  checkpoint_discovered_backend b;
  b.address = read_string(field(obj, "address"), join(where, "address"));
  const auto parsed = config::parse_host_port(b.address);
  if (!parsed || parsed->port == 0)
    fail(join(where, "address"),
         "\"" + b.address + "\" is not host:port with a port from 1 to 65535");
  b.weight =
      std::uint32_t(read_uint(field(obj, "weight"), checkpoint_max_weight, join(where, "weight")));
  return b;
}

checkpoint_discovery read_discovery(const json::value& v, const std::string& where) {
  const auto& obj = as_object(v, where);
  expect_keys(obj, {"source", "revision", "backends"}, where);
  checkpoint_discovery d;
  d.source = read_string(field(obj, "source"), join(where, "source"));
  if (d.source != "etcd" && d.source != "dns")
    fail(join(where, "source"), "expected \"etcd\" or \"dns\", got \"" + d.source + "\"");
  // etcd's revisions are int64; a larger one would turn negative when restored.
  constexpr auto max_revision = std::uint64_t(std::numeric_limits<std::int64_t>::max());
  d.revision =
      std::int64_t(read_uint(field(obj, "revision"), max_revision, join(where, "revision")));
  const auto& backends = read_array(field(obj, "backends"), join(where, "backends"));
  d.backends.reserve(backends.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < backends.size(); ++i) {
    const auto at = join(where, "backends") + "[" + std::to_string(i) + "]";
    d.backends.push_back(read_discovered_backend(backends[i], at));
    // A source publishes one backend per address; a repeat is damage, not a second backend.
    if (!seen.insert(d.backends.back().address).second)
      fail(join(at, "address"), "repeats \"" + d.backends.back().address + "\"");
  }
  return d;
}

checkpoint_pool read_pool(const json::value& v, const std::string& where) {
  const auto& obj = as_object(v, where);
  expect_keys(obj, {"name", "backends"}, where, {"discovery"});
  checkpoint_pool pool;
  pool.name = read_string(field(obj, "name"), join(where, "name"));
  const auto& backends = read_array(field(obj, "backends"), join(where, "backends"));
  pool.backends.reserve(backends.size());
  for (std::size_t i = 0; i < backends.size(); ++i)
    pool.backends.push_back(
        read_backend(backends[i], join(where, "backends") + "[" + std::to_string(i) + "]"));
  if (const auto* discovery = obj.if_contains("discovery"))
    pool.discovery = read_discovery(*discovery, join(where, "discovery"));
  return pool;
}

checkpoint_state read_state(const json::object& root) {
  // The version is checked before anything else: another version may have another schema.
  const auto* version = root.if_contains("format_version");
  if (!version) fail("", "missing field \"format_version\"");
  const auto format_version = read_int64(*version, "format_version");
  if (format_version != checkpoint_format_version)
    fail("", "format version " + std::to_string(format_version) +
                 " is not supported by this tally (expects " +
                 std::to_string(checkpoint_format_version) + ")");
  expect_keys(
      root,
      {"format_version", "node_id", "config_hash", "hlc", "written_at_ms", "pools", "checksum"},
      "");
  checkpoint_state state;
  state.format_version = format_version;
  state.node_id = read_node(field(root, "node_id"), "node_id");
  state.config_hash = read_string(field(root, "config_hash"), "config_hash");
  state.hlc = read_hlc(field(root, "hlc"), "hlc");
  state.written_at_ms = read_int64(field(root, "written_at_ms"), "written_at_ms");
  const auto& pools = read_array(field(root, "pools"), "pools");
  state.pools.reserve(pools.size());
  for (std::size_t i = 0; i < pools.size(); ++i)
    state.pools.push_back(read_pool(pools[i], "pools[" + std::to_string(i) + "]"));
  return state;
}

}  // namespace

std::string checkpoint_checksum(const checkpoint_state& state) {
  // An empty digest (OpenSSL failed) never matches a stored one: decode reports a mismatch.
  return config::sha256_hex(json::serialize(content_object(state)));
}

std::string encode_checkpoint(const checkpoint_state& state) {
  auto content = content_object(state);
  const auto checksum = config::sha256_hex(json::serialize(content));
  content["checksum"] = checksum;
  return detail::pretty_json(content);
}

checkpoint_decode_result decode_checkpoint(std::string_view bytes) noexcept {
  try {
    if (bytes.empty()) return {std::nullopt, "the file is empty"};
    if (bytes.size() > max_checkpoint_bytes)
      return {std::nullopt, "too large (" + std::to_string(bytes.size()) + " bytes, limit " +
                                std::to_string(max_checkpoint_bytes) + ")"};
    boost::system::error_code ec;
    const json::value root = json::parse(json::string_view(bytes.data(), bytes.size()), ec);
    if (ec) return {std::nullopt, "not valid JSON (truncated or damaged): " + ec.message()};
    if (!root.is_object()) return {std::nullopt, "expected a JSON object at the top level"};
    auto state = read_state(root.get_object());
    const auto& stored = root.get_object().at("checksum");
    if (!stored.is_string()) return {std::nullopt, "checksum: expected a string"};
    if (stored.get_string() != checkpoint_checksum(state))
      return {std::nullopt, "checksum mismatch: the file was changed or only partly written"};
    return {std::move(state), {}};
  } catch (const schema_error& e) {
    return {std::nullopt, e.message};
  } catch (const std::exception& e) {
    return {std::nullopt, std::string("cannot decode: ") + e.what()};
  } catch (...) {
    return {std::nullopt, "cannot decode: unknown error"};
  }
}

}  // namespace tally::cluster
