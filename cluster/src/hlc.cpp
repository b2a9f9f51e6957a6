#include "tally/cluster/hlc.hpp"

#include <algorithm>
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

hybrid_clock::hybrid_clock(std::string node, system_ms_fn physical)
    : node_(std::move(node)), physical_(std::move(physical)) {}

hlc_timestamp hybrid_clock::now() {
  const std::int64_t pt = physical_();
  if (pt > physical_ms_) {
    physical_ms_ = pt;
    logical_ = 0;
  } else {
    // The wall clock stood still or went back: stay on the larger time, count events within it.
    ++logical_;
  }
  return current();
}

hlc_timestamp hybrid_clock::update(const hlc_timestamp& remote) {
  const std::int64_t pt = physical_();
  const std::int64_t next = std::max({physical_ms_, remote.physical_ms, pt});
  if (next == physical_ms_ && next == remote.physical_ms)
    logical_ = std::max(logical_, remote.logical) + 1;
  else if (next == physical_ms_)
    ++logical_;
  else if (next == remote.physical_ms)
    logical_ = remote.logical + 1;
  else
    logical_ = 0;
  physical_ms_ = next;
  return current();
}

}  // namespace tally::cluster
