#include "tally/cluster/admin_changes.hpp"

#include <algorithm>

#include <boost/json/object.hpp>

namespace tally::cluster {

namespace json = boost::json;

json::value to_json(const admin_change& c) {
  json::object o;
  o["pool"] = c.key.pool;
  o["backend"] = c.key.backend;
  if (c.field == change_field::drained) {
    o["field"] = "drained";
    o["value"] = c.value != 0;
  } else {
    o["field"] = "weight";
    o["value"] = c.value;
  }
  o["hlc"] = to_json(c.stamp);
  return o;
}

std::optional<admin_change> admin_change_from_json(const json::value& v,
                                                   std::size_t max_string_bytes) {
  const auto* o = v.if_object();
  if (!o) return std::nullopt;
  const auto* pool = o->if_contains("pool");
  const auto* backend = o->if_contains("backend");
  const auto* field = o->if_contains("field");
  const auto* value = o->if_contains("value");
  const auto* hlc = o->if_contains("hlc");
  if (!pool || !backend || !field || !value || !hlc) return std::nullopt;
  if (!pool->is_string() || !backend->is_string() || !field->is_string()) return std::nullopt;
  if (pool->get_string().size() > max_string_bytes ||
      backend->get_string().size() > max_string_bytes)
    return std::nullopt;
  admin_change c;
  c.key = {std::string(pool->get_string()), std::string(backend->get_string())};
  if (field->get_string() == "drained") {
    if (!value->is_bool()) return std::nullopt;
    c.field = change_field::drained;
    c.value = value->get_bool() ? 1 : 0;
  } else if (field->get_string() == "weight") {
    c.field = change_field::weight;
    if (value->is_int64() && value->get_int64() >= 0 && value->get_int64() <= max_admin_weight)
      c.value = static_cast<std::uint32_t>(value->get_int64());
    else if (value->is_uint64() && value->get_uint64() <= max_admin_weight)
      c.value = static_cast<std::uint32_t>(value->get_uint64());
    else
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  auto stamp = hlc_from_json(*hlc);
  if (!stamp || stamp->node.empty() || stamp->node.size() > max_string_bytes) return std::nullopt;
  c.stamp = std::move(*stamp);
  return c;
}

admin_change admin_change_set::local_change(backend_key key, change_field field,
                                            std::uint32_t value) {
  admin_change c{std::move(key), field, value, clock_.now()};
  offer(c);
  return c;
}

std::vector<admin_change> admin_change_set::merge(const std::vector<admin_change>& remote) {
  std::vector<admin_change> won;
  for (const auto& c : remote) {
    if (!clock_.within_offset(c.stamp)) {
      ++refused_ahead_;
      continue;
    }
    clock_.update(c.stamp);
    if (offer(c)) won.push_back(c);
  }
  return won;
}

bool admin_change_set::offer(const admin_change& c) {
  auto [it, inserted] = records_.try_emplace(slot{c.key, c.field}, c);
  if (inserted) return true;
  if (!(it->second.stamp < c.stamp)) return false;  // equal stamp = the same record again
  it->second = c;
  return true;
}

void admin_change_set::retain(const std::vector<backend_key>& keys) {
  std::erase_if(records_, [&](const auto& entry) {
    return std::find(keys.begin(), keys.end(), entry.first.first) == keys.end();
  });
}

std::vector<admin_change> admin_change_set::all() const {
  std::vector<admin_change> out;
  out.reserve(records_.size());
  for (const auto& [slot, c] : records_)
    out.push_back(c);
  return out;
}

std::vector<admin_change> admin_change_set::for_backend(const backend_key& key) const {
  std::vector<admin_change> out;
  for (auto f : {change_field::drained, change_field::weight}) {
    auto it = records_.find(slot{key, f});
    if (it != records_.end()) out.push_back(it->second);
  }
  return out;
}

}  // namespace tally::cluster
