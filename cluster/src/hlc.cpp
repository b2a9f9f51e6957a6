#include "tally/cluster/hlc.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include <boost/json/object.hpp>

namespace tally::cluster {

namespace json = boost::json;

json::value to_json(const hlc_timestamp& t) {
  return json::object{{"ms", t.physical_ms}, {"c", t.logical}, {"node", t.node}};
}

std::optional<hlc_timestamp> hlc_from_json(const json::value& v) {
  const auto* obj = v.if_object();
  if (!obj) return std::nullopt;
  const auto* ms = obj->if_contains("ms");
  const auto* c = obj->if_contains("c");
  const auto* node = obj->if_contains("node");
  if (!ms || !c || !node || !node->is_string()) return std::nullopt;
  hlc_timestamp t;
  if (ms->is_int64() && ms->get_int64() >= 0)
    t.physical_ms = ms->get_int64();
  else if (ms->is_uint64() && ms->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    t.physical_ms = static_cast<std::int64_t>(ms->get_uint64());
  else
    return std::nullopt;
  if (c->is_int64() && c->get_int64() >= 0 && c->get_int64() <= UINT32_MAX)
    t.logical = static_cast<std::uint32_t>(c->get_int64());
  else if (c->is_uint64() && c->get_uint64() <= UINT32_MAX)
    t.logical = static_cast<std::uint32_t>(c->get_uint64());
  else
    return std::nullopt;
  t.node = std::string(node->get_string());
  return t;
}

namespace {

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b)
    return std::numeric_limits<std::int64_t>::max();
  if (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b)
    return std::numeric_limits<std::int64_t>::min();
  return a + b;
}

}  // namespace

hybrid_clock::hybrid_clock(std::string node, system_ms_fn physical,
                           std::chrono::milliseconds max_offset)
    : node_(std::move(node)),
      physical_(std::move(physical)),
      max_offset_(std::max(max_offset, std::chrono::milliseconds(0))) {}

void hybrid_clock::set(std::int64_t ms, std::uint64_t logical) {
  if (logical > std::numeric_limits<std::uint32_t>::max()) {
    // At INT64_MAX there is no next millisecond; staying put repeats a stamp, which is still
    // better than wrapping. Only a wall clock at the end of time gets here.
    if (ms == std::numeric_limits<std::int64_t>::max()) {
      physical_ms_ = ms;
      logical_ = std::numeric_limits<std::uint32_t>::max();
      return;
    }
    ++ms;
    logical = 0;
  }
  physical_ms_ = ms;
  logical_ = static_cast<std::uint32_t>(logical);
}

bool hybrid_clock::within_offset(const hlc_timestamp& remote) const {
  return remote.physical_ms <= saturating_add(physical_(), max_offset_.count());
}

std::chrono::milliseconds hybrid_clock::ahead_by(const hlc_timestamp& remote) const {
  // A wall clock before 1970 is broken; measuring from the epoch keeps the subtraction in range.
  const std::int64_t pt = std::max<std::int64_t>(physical_(), 0);
  if (remote.physical_ms <= pt) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(remote.physical_ms - pt);  // both >= 0: cannot overflow
}

hlc_timestamp hybrid_clock::now() {
  const std::int64_t pt = physical_();
  if (pt > physical_ms_)
    set(pt, 0);
  else
    // The wall clock stood still or went back: stay on the larger time, count events within it.
    set(physical_ms_, std::uint64_t{logical_} + 1);
  return current();
}

hlc_timestamp hybrid_clock::update(const hlc_timestamp& remote) {
  if (!within_offset(remote)) return now();
  const std::int64_t pt = physical_();
  const std::int64_t next = std::max({physical_ms_, remote.physical_ms, pt});
  if (next == physical_ms_ && next == remote.physical_ms)
    set(next, std::uint64_t{std::max(logical_, remote.logical)} + 1);
  else if (next == physical_ms_)
    set(next, std::uint64_t{logical_} + 1);
  else if (next == remote.physical_ms)
    set(next, std::uint64_t{remote.logical} + 1);
  else
    set(next, 0);
  return current();
}

}  // namespace tally::cluster
