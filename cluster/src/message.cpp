#include "tally/cluster/message.hpp"

#include <charconv>
#include <cstdio>
#include <exception>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace tally::cluster {

namespace json = boost::json;

namespace {

std::string incarnation_text(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::optional<std::uint64_t> parse_incarnation(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> as_uint(const json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  return std::nullopt;
}

std::optional<std::int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get_uint64());
  return std::nullopt;
}

const json::string* bounded_string(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string() || v->get_string().size() > message_limits::max_string_bytes)
    return nullptr;
  return &v->get_string();
}

decode_result fail(std::string why) {
  return {std::nullopt, std::move(why)};
}

decode_result decode_checked(std::string_view body) {
  if (body.size() > message_limits::max_body_bytes) return fail("body over 256 KiB");
  json::parse_options opts;
  opts.max_depth = 8;  // the schema nests four deep; anything deeper is not ours
  boost::system::error_code ec;
  json::value root = json::parse(body, ec, {}, opts);
  if (ec) return fail("invalid JSON: " + ec.message());
  const auto* obj = root.if_object();
  if (!obj) return fail("body is not a JSON object");

  votes_message m;
  const auto* node = bounded_string(*obj, "node");
  if (!node || node->empty())
    return fail("\"node\" must be a non-empty string of at most 512 bytes");
  m.from.node = std::string(*node);
  const auto* inc = obj->if_contains("incarnation");
  std::optional<std::uint64_t> incarnation;
  if (inc && inc->is_string()) incarnation = parse_incarnation(inc->get_string());
  if (!incarnation) return fail("\"incarnation\" must be a string of 16 hex digits");
  m.from.incarnation = *incarnation;
  const auto* seq = obj->if_contains("seq");
  auto seq_value = seq ? as_uint(*seq) : std::nullopt;
  if (!seq_value) return fail("\"seq\" must be a non-negative integer");
  m.from.seq = *seq_value;
  const auto* hlc = obj->if_contains("hlc");
  auto stamp = hlc ? hlc_from_json(*hlc) : std::nullopt;
  if (!stamp || stamp->node.size() > message_limits::max_string_bytes)
    return fail("\"hlc\" must be {\"ms\": int, \"c\": int, \"node\": string}");
  m.hlc = std::move(*stamp);

  const auto* votes = obj->if_contains("votes");
  if (!votes || !votes->is_array()) return fail("\"votes\" must be an array");
  if (votes->get_array().size() > message_limits::max_votes) return fail("more than 10000 votes");
  m.votes.reserve(votes->get_array().size());
  for (const auto& v : votes->get_array()) {
    const auto* vo = v.if_object();
    if (!vo) return fail("a vote is not an object");
    const auto* pool = bounded_string(*vo, "pool");
    const auto* backend = bounded_string(*vo, "backend");
    const auto* up = vo->if_contains("up");
    const auto* since = vo->if_contains("since_ms");
    auto since_value = since ? as_int(*since) : std::nullopt;
    if (!pool || !backend || !up || !up->is_bool() || !since_value)
      return fail(
          "a vote must be {\"pool\": string, \"backend\": string, \"up\": bool, \"since_ms\": int} "
          "with strings of at most 512 bytes");
    m.votes.push_back({{std::string(*pool), std::string(*backend)}, up->get_bool(), *since_value});
  }

  const auto* changes = obj->if_contains("changes");
  if (!changes || !changes->is_array()) return fail("\"changes\" must be an array");
  if (changes->get_array().size() > message_limits::max_changes)
    return fail("more than 10000 changes");
  m.changes.reserve(changes->get_array().size());
  for (const auto& c : changes->get_array()) {
    auto change = admin_change_from_json(c, message_limits::max_string_bytes);
    if (!change) return fail("malformed change");
    m.changes.push_back(std::move(*change));
  }
  return {std::move(m), {}};
}

}  // namespace

std::string encode(const votes_message& m) {
  json::object o;
  o["node"] = m.from.node;
  o["incarnation"] = incarnation_text(m.from.incarnation);
  o["seq"] = m.from.seq;
  o["hlc"] = to_json(m.hlc);
  json::array votes;
  votes.reserve(m.votes.size());
  for (const auto& v : m.votes)
    votes.push_back(json::object{
        {"pool", v.key.pool}, {"backend", v.key.backend}, {"up", v.up}, {"since_ms", v.since_ms}});
  o["votes"] = std::move(votes);
  json::array changes;
  changes.reserve(m.changes.size());
  for (const auto& c : m.changes)
    changes.push_back(to_json(c));
  o["changes"] = std::move(changes);
  return json::serialize(o);
}

decode_result decode_votes_message(std::string_view body) noexcept {
  // Boost.JSON reports parse errors through the error_code; what can still throw here is
  // allocation. This is a network boundary, so nothing escapes it.
  try {
    return decode_checked(body);
  } catch (const std::exception& e) {
    try {
      return fail(std::string("decode failed: ") + e.what());
    } catch (...) {
    }
  } catch (...) {
  }
  return decode_result{};
}

}  // namespace tally::cluster
