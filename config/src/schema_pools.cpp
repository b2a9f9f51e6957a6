// `pools:`: the map of pool name to pool, and each pool's policy, hash_key and backends.
#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "scalars.hpp"
#include "schema.hpp"

namespace tally::config::detail {
namespace {

constexpr std::string_view pools_example =
    "pools: { web: { backends: [ { address: 127.0.0.1:9001 } ] } }";

bool is_pool_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

// RFC 9110 token characters: what a header or cookie name may contain.
bool is_token(std::string_view name) {
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](unsigned char c) {
    return std::isalnum(c) || extra.find(static_cast<char>(c)) != std::string_view::npos;
  });
}

constexpr std::array<std::pair<std::string_view, policy_kind>, 5> policies{{
    {"round_robin", policy_kind::round_robin},
    {"weighted_round_robin", policy_kind::weighted_round_robin},
    {"least_connections", policy_kind::least_connections},
    {"random_two", policy_kind::random_two},
    {"consistent_hash", policy_kind::consistent_hash},
}};

// Returns false when the policy was written but is not one of the five.
bool read_policy(const map_reader& pool, policy_kind& out) {
  auto text = pool.scalar("policy", "a policy name");
  if (!text) return !pool.has("policy");
  auto found = std::find_if(policies.begin(), policies.end(),
                            [&](const auto& p) { return p.first == *text; });
  if (found == policies.end()) {
    pool.diag().report(pool.value_mark("policy"),
                       pool.field("policy") +
                           " must be one of: round_robin, weighted_round_robin, "
                           "least_connections, random_two, consistent_hash; got " +
                           quoted(*text));
    return false;
  }
  out = found->second;
  return true;
}

std::optional<hash_key_config> parse_hash_key(std::string_view text) {
  if (text == "client_ip") return hash_key_config{};
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto prefix = text.substr(0, colon);
  auto name = text.substr(colon + 1);
  if (!is_token(name)) return std::nullopt;
  if (prefix == "header")
    return hash_key_config{hash_key_config::source::header, std::string(name)};
  if (prefix == "cookie")
    return hash_key_config{hash_key_config::source::cookie, std::string(name)};
  return std::nullopt;
}

void read_hash_key(const map_reader& pool, bool policy_known, policy_kind policy,
                   hash_key_config& out) {
  auto text = pool.scalar("hash_key", "client_ip, header:NAME or cookie:NAME");
  if (!text) return;
  auto at = pool.value_mark("hash_key");
  if (policy_known && policy != policy_kind::consistent_hash) {
    pool.diag().report(at, pool.field("hash_key") +
                               " only applies to policy consistent_hash (this "
                               "pool uses " +
                               std::string(to_string(policy)) +
                               "); remove it or set policy: consistent_hash");
    return;
  }
  auto parsed = parse_hash_key(*text);
  if (!parsed) {
    pool.diag().report(at, pool.field("hash_key") +
                               " must be client_ip, header:NAME or "
                               "cookie:NAME with a non-empty NAME; got " +
                               quoted(*text));
    return;
  }
  out = std::move(*parsed);
}

// Backends already seen in a pool, to report a repeated address with the line of the first.
struct seen_backend {
  std::string key;  // lowercased host and port
  int line;         // 1-based
};

void read_backend(const map_reader& backend, const std::string& pool_field,
                  std::vector<seen_backend>& seen, backend_config& out) {
  if (!backend.is_map()) return;
  if (backend.require("address", "each backend needs address: host:port")) {
    if (backend.read_address("address", out.address)) {
      auto at = backend.value_mark("address");
      auto key = address_identity(out.address);
      auto first = std::find_if(seen.begin(), seen.end(),
                                [&](const seen_backend& s) { return s.key == key; });
      if (first != seen.end()) {
        backend.diag().report(at, "duplicate backend " + quoted(out.address.text) + " in " +
                                      pool_field + " (first listed at line " +
                                      std::to_string(first->line) + "); list each address once");
      } else {
        seen.push_back({key, at.line + 1});
      }
    }
  }
  backend.read_whole_number("weight", out.weight, 0, 1000);
}

// With etcd discovery the list is optional: it serves until etcd first answers.
void read_backends(const map_reader& pool, bool from_etcd, std::vector<backend_config>& out) {
  constexpr std::string_view example = "backends: [ { address: 127.0.0.1:9001, weight: 1 } ]";
  if (from_etcd && !pool.has("backends")) return;
  if (!pool.require("backends", "add a list of backends, like " + std::string(example))) return;
  auto list = pool.list("backends", example);
  if (!list) return;
  auto at = pool.value_mark("backends");
  if (list->size() == 0 && from_etcd) return;
  if (list->size() == 0) {
    pool.diag().report(at, pool.field("backends") + " is empty; add at least one backend, like " +
                               std::string(example));
    return;
  }
  std::vector<seen_backend> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    YAML::Node item = (*list)[i];
    map_reader backend(item, at, pool.field("backends") + "[" + std::to_string(i) + "]",
                       {"address", "weight"}, pool.diag());
    read_backend(backend, pool.field("backends"), seen, out.emplace_back());
  }
  bool all_idle = std::all_of(out.begin(), out.end(), [](const auto& b) { return b.weight == 0; });
  if (all_idle) {
    pool.diag().report(at, "every backend in " + pool.field("backends") +
                               " has weight 0, so the pool can take no traffic; give at least "
                               "one backend a weight of 1 or more");
  }
}

pool_config read_pool(const YAML::Node& node, const YAML::Mark& name_mark, std::string name,
                      diagnostics& diag, std::int64_t now) {
  pool_config pool;
  pool.name = std::move(name);
  map_reader reader(node, name_mark, "pools." + pool.name,
                    {"policy", "hash_key", "backends", "health_check", "outlier", "retry",
                     "max_connections", "queue", "discovery", "tls"},
                    diag);
  if (!reader.is_map()) return pool;
  bool policy_known = read_policy(reader, pool.policy);
  read_hash_key(reader, policy_known, pool.policy, pool.hash_key);
  if (reader.has("discovery")) read_discovery(reader, pool.discovery);
  read_backends(reader, pool.discovery && pool.discovery->etcd, pool.backends);
  pool.health_check_configured = reader.has("health_check");
  if (pool.health_check_configured) read_health_check(reader, pool.health_check);
  pool.outlier_configured = reader.has("outlier");
  if (pool.outlier_configured) read_outlier(reader, pool.outlier);
  read_retry(reader, pool.retry);
  reader.read_whole_number("max_connections", pool.max_connections, 0, 1'000'000);
  read_queue(reader, pool.queue);
  if (reader.has("tls")) read_upstream_tls(reader, pool.tls, now);
  return pool;
}

}  // namespace

void read_pools(const map_reader& top, std::vector<pool_config>& out, std::int64_t now) {
  auto hint = "add at least one pool, like " + std::string(pools_example);
  if (!top.require("pools", hint)) return;
  YAML::Node pools = top.value("pools");
  auto at = top.value_mark("pools");
  diagnostics& diag = top.diag();
  if (pools.IsNull() || (pools.IsMap() && pools.size() == 0)) {
    diag.report(at, "pools is empty; " + hint);
    return;
  }
  if (!pools.IsMap()) {
    diag.report(at, "pools must be a map of pool name to pool, like " + std::string(pools_example) +
                        "; got " + describe(pools));
    return;
  }
  std::vector<std::pair<std::string, int>> defined;  // name, 1-based line
  for (const auto& pair : pools) {
    auto name_mark = mark_or(pair.first, at);
    if (!pair.first.IsScalar()) {
      diag.report(name_mark, "pool names must be plain words, got " + describe(pair.first));
      continue;
    }
    const std::string name = pair.first.Scalar();
    if (!is_pool_name(name)) {
      diag.report(name_mark,
                  "pool name " + quoted(name) + " may only use letters, digits, '_', '.' and '-'");
    }
    auto first = std::find_if(defined.begin(), defined.end(),
                              [&](const auto& d) { return d.first == name; });
    if (first != defined.end()) {
      diag.report(name_mark, "pool " + quoted(name) + " is defined twice (first at line " +
                                 std::to_string(first->second) + "); rename or merge one");
      continue;
    }
    defined.emplace_back(name, name_mark.line + 1);
    out.push_back(read_pool(pair.second, name_mark, name, diag, now));
  }
}

}  // namespace tally::config::detail
