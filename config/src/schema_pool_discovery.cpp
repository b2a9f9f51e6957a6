// A pool's `discovery:` section: where its backends come from besides the `backends` list.
#include "scalars.hpp"
#include "schema.hpp"

namespace tally::config::detail {
namespace {

constexpr std::string_view etcd_example =
    "etcd: { endpoints: [ \"http://127.0.0.1:2379\" ], prefix: /tally/pools/web/ }";

void read_endpoint(const map_reader& etcd, const YAML::Node& item, etcd_discovery_config& out) {
  auto at = mark_or(item, etcd.value_mark("endpoints"));
  if (!item.IsScalar()) {
    etcd.diag().report(at, etcd.field("endpoints") + " must list URLs like " +
                               "\"http://127.0.0.1:2379\", got " + describe(item));
    return;
  }
  std::string_view text = item.Scalar();
  if (text.starts_with("https://")) {
    etcd.diag().report(at, "etcd endpoint " + quoted(text) +
                               ": https:// is not supported yet (TLS to etcd comes with the TLS "
                               "work of issue 14); use an http:// endpoint, on a trusted network");
    return;
  }
  constexpr std::string_view scheme = "http://";
  auto rest = text.starts_with(scheme) ? text.substr(scheme.size()) : std::string_view();
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  auto parsed = parse_host_port(rest);
  if (!text.starts_with(scheme) || !parsed.value || parsed.value->port == 0) {
    etcd.diag().report(at, "etcd endpoint " + quoted(text) +
                               " must be http://host:port, like \"http://127.0.0.1:2379\"");
    return;
  }
  out.endpoints.push_back(std::move(*parsed.value));
}

void read_etcd(const map_reader& discovery, etcd_discovery_config& out) {
  map_reader etcd(discovery, "etcd", {"endpoints", "prefix", "token"});
  if (!etcd.is_map()) return;
  if (etcd.require("endpoints", "add endpoints: [ \"http://127.0.0.1:2379\" ]")) {
    if (auto list = etcd.list("endpoints", "[ \"http://127.0.0.1:2379\" ]")) {
      if (list->size() == 0)
        etcd.diag().report(etcd.value_mark("endpoints"),
                           etcd.field("endpoints") + " is empty; list at least one etcd URL, " +
                               "like [ \"http://127.0.0.1:2379\" ]");
      for (const auto& item : *list)
        read_endpoint(etcd, item, out);
    }
  }
  if (etcd.require("prefix", "add the key prefix of the pool's backends, like " +
                                 std::string("prefix: /tally/pools/web/")))
    etcd.read_string("prefix", out.prefix);
  etcd.read_string("token", out.token, /*allow_empty=*/true);
}

}  // namespace

void read_discovery(const map_reader& pool, std::optional<discovery_config>& out) {
  map_reader discovery(pool, "discovery", {"dns", "etcd"});
  if (!discovery.is_map()) return;
  discovery_config cfg;
  if (discovery.has("dns") && discovery.has("etcd")) {
    discovery.diag().report(discovery.value_mark("etcd"),
                            discovery.field("etcd") + " and " + discovery.field("dns") +
                                " cannot both be set; pick one source for the pool's backends");
    return;
  }
  if (discovery.has("dns")) {
    map_reader dns(discovery, "dns", {"refresh"});
    if (!dns.is_map()) return;
    cfg.dns.emplace();
    dns.read_duration("refresh", cfg.dns->refresh, duration{100});
  } else if (discovery.has("etcd")) {
    cfg.etcd.emplace();
    read_etcd(discovery, *cfg.etcd);
  } else {
    // Neither: "missing etcd" names the common one, unless a misspelled key was reported.
    discovery.require("etcd", "write discovery: { " + std::string(etcd_example) +
                                  " } or discovery: { dns: { refresh: 5s } }");
    return;
  }
  out = std::move(cfg);
}

}  // namespace tally::config::detail
