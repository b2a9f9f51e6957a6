// `routes:`: the ordered list of host/path matches, each naming a pool.
#include <algorithm>
#include <cctype>

#include "scalars.hpp"
#include "schema.hpp"

namespace tally::config::detail {
namespace {

constexpr std::string_view routes_example = "routes: [ { path_prefix: /, pool: web } ]";

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// An exact hostname or "*.example.com"; the proxy compares hosts case-insensitively, so the
// pattern is stored lowercased.
void read_route_host(const map_reader& route, std::string& out) {
  std::string host;
  if (!route.read_string("host", host)) return;
  std::string_view name = host;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.find('*') != std::string_view::npos) {
    route.diag().report(route.value_mark("host"),
                        route.field("host") + " " + quoted(host) +
                            " may only use '*' as its whole first label, like *.example.com");
    return;
  }
  if (!is_plausible_host(name)) {
    route.diag().report(route.value_mark("host"),
                        route.field("host") + " " + quoted(host) +
                            " must be a hostname like api.example.com or *.example.com (letters, "
                            "digits, '-', '.'; no port)");
    return;
  }
  out = lowercase(std::move(host));
}

std::string pool_names(const std::vector<pool_config>& pools) {
  std::string names;
  for (const auto& pool : pools)
    names += (names.empty() ? "" : ", ") + pool.name;
  return names.empty() ? "(none)" : names;
}

void read_route_pool(const map_reader& route, const std::vector<pool_config>& pools,
                     route_config& out) {
  if (!route.require("pool", "each route needs pool: NAME of a pool defined under pools:")) return;
  if (!route.read_string("pool", out.pool)) return;
  if (pools.empty()) return;  // the missing pools are reported already; every name would fail
  auto found = std::find_if(pools.begin(), pools.end(),
                            [&](const pool_config& p) { return p.name == out.pool; });
  if (found == pools.end()) {
    route.diag().report(route.value_mark("pool"), "route names unknown pool " + quoted(out.pool) +
                                                      "; defined pools: " + pool_names(pools));
    return;
  }
  out.pool_index = static_cast<std::size_t>(found - pools.begin());
}

route_config read_route(const map_reader& route, const std::vector<pool_config>& pools) {
  route_config out;
  if (!route.is_map()) return out;
  read_route_host(route, out.host);
  if (route.read_string("path_prefix", out.path_prefix) && out.path_prefix.front() != '/') {
    route.diag().report(route.value_mark("path_prefix"),
                        route.field("path_prefix") + " must start with '/', like /v1; got " +
                            quoted(out.path_prefix));
  }
  read_route_pool(route, pools, out);
  return out;
}

}  // namespace

void read_routes(const map_reader& top, const std::vector<pool_config>& pools,
                 std::vector<route_config>& out) {
  auto hint = "add at least one route, like " + std::string(routes_example);
  if (!top.require("routes", hint)) return;
  auto list = top.list("routes", "[ { path_prefix: /, pool: web } ]");
  if (!list) return;
  auto at = top.value_mark("routes");
  if (list->size() == 0) {
    top.diag().report(at, "routes is empty; " + hint);
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    map_reader route((*list)[i], at, "routes[" + std::to_string(i) + "]",
                     {"host", "path_prefix", "pool"}, top.diag());
    out.push_back(read_route(route, pools));
  }
}

}  // namespace tally::config::detail
