// `listen:`: one address (one plain listener), or a list of listeners, each an address with
// optional TLS.
#include <algorithm>

#include "scalars.hpp"
#include "schema.hpp"

namespace tally::config::detail {
namespace {

constexpr std::string_view listen_example =
    "[ { address: 0.0.0.0:443, tls: { certificates: [ { cert: site.pem, key: site-key.pem } ] } "
    "} ]";

// A list item written as a plain "host:port".
std::optional<host_port> read_address_item(const YAML::Node& item, const YAML::Mark& at,
                                           diagnostics& diag) {
  auto parsed = parse_host_port(item.Scalar());
  if (!parsed.value) {
    diag.report(at, "bad address " + quoted(item.Scalar()) + ": " + parsed.problem);
    return std::nullopt;
  }
  return std::move(parsed.value);
}

// One item of the list: "host:port" or { address, tls }. nullopt when its address is unusable.
std::optional<listener_config> read_listener_item(const YAML::Node& item, const YAML::Mark& at,
                                                  const std::string& field, diagnostics& diag,
                                                  std::int64_t now, YAML::Mark& address_at) {
  address_at = at;
  if (item.IsScalar()) {
    auto address = read_address_item(item, at, diag);
    if (!address) return std::nullopt;
    return listener_config{std::move(*address), std::nullopt};
  }
  if (!item.IsMap()) {
    diag.report(at, field +
                        " must be an address host:port or a map { address: HOST:PORT, tls: "
                        "{...} }, got " +
                        describe(item));
    return std::nullopt;
  }
  map_reader reader(item, at, field, {"address", "tls"}, diag);
  listener_config out;
  if (reader.has("tls")) read_listener_tls(reader, out.tls, now);
  if (!reader.require("address", "each listener needs address: host:port")) return std::nullopt;
  if (!reader.read_address("address", out.address, /*allow_port_zero=*/true)) return std::nullopt;
  address_at = reader.value_mark("address");
  return out;
}

}  // namespace

bool read_listeners(const map_reader& top, std::vector<listener_config>& out,
                    std::vector<listener_place>& places, std::int64_t now) {
  places.clear();
  if (!top.has("listen")) {
    places.assign(out.size(), listener_place{"listen", top.mark()});  // the default
    return true;
  }
  YAML::Node value = top.value("listen");
  const auto at = top.value_mark("listen");
  diagnostics& diag = top.diag();
  if (value.IsScalar()) {
    host_port address;
    if (!top.read_address("listen", address, /*allow_port_zero=*/true)) return false;
    out = {listener_config{std::move(address), std::nullopt}};
    places = {listener_place{"listen", at}};
    return true;
  }
  if (!value.IsSequence() || value.size() == 0) {
    diag.report(at,
                "listen must be an address host:port, like 127.0.0.1:8080, or a non-empty "
                "list of listeners, like " +
                    std::string(listen_example) + "; got " + describe(value));
    return false;
  }
  std::vector<listener_config> read;
  bool ok = true;
  for (std::size_t i = 0; i < value.size(); ++i) {
    YAML::Node item = value[i];
    const std::string field = "listen[" + std::to_string(i) + "]";
    YAML::Mark address_at;
    auto listener = read_listener_item(item, mark_or(item, at), field, diag, now, address_at);
    if (!listener) {
      ok = false;
      continue;
    }
    // Port 0 asks the kernel for a free port each time, so two of them never collide.
    const auto identity = address_identity(listener->address);
    auto first = std::find_if(read.begin(), read.end(), [&](const listener_config& l) {
      return l.address.port != 0 && address_identity(l.address) == identity;
    });
    if (first != read.end()) {
      const auto& first_place = places[static_cast<std::size_t>(first - read.begin())];
      diag.report(address_at, field + " " + quoted(listener->address.text) +
                                  " is the same address as " + first_place.field + " (line " +
                                  std::to_string(first_place.at.line + 1) +
                                  "); list each address once, with all its certificates");
      ok = false;
      continue;
    }
    places.push_back(listener_place{field, address_at});
    read.push_back(std::move(*listener));
  }
  if (!ok) return false;
  out = std::move(read);
  return true;
}

}  // namespace tally::config::detail
