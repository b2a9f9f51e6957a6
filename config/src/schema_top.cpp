// The top level of the file and its small sections: admin, timeouts, limits, access_log.
#include <limits>

#include "scalars.hpp"
#include "schema.hpp"

namespace tally::config::detail {
namespace {

void read_timeouts(const map_reader& top, timeouts_config& out) {
  map_reader timeouts(top, "timeouts",
                      {"connect", "request_header", "idle", "upstream_response", "drain"});
  timeouts.read_duration("connect", out.connect);
  timeouts.read_duration("request_header", out.request_header);
  timeouts.read_duration("idle", out.idle);
  timeouts.read_duration("upstream_response", out.upstream_response);
  timeouts.read_duration("drain", out.drain);
}

void read_limits(const map_reader& top, limits_config& out) {
  map_reader limits(top, "limits", {"max_header_bytes", "max_body_bytes", "max_connections"});
  limits.read_size("max_header_bytes", out.max_header_bytes, 1024, 1024ull * 1024);
  limits.read_size("max_body_bytes", out.max_body_bytes, 1,
                   std::numeric_limits<std::uint64_t>::max());
  limits.read_whole_number("max_connections", out.max_connections, 1, 1'000'000);
}

void read_access_log(const map_reader& top, access_log_config& out) {
  map_reader access_log(top, "access_log", {"enabled", "path"});
  access_log.read_bool("enabled", out.enabled);
  access_log.read_string("path", out.path);
}

// Port 0 asks the kernel for a free port, so two port-0 listeners never collide (tests do this).
void check_listeners_differ(const map_reader& top, const map_reader& admin, const config& out) {
  if (out.listen.port == 0 || address_identity(out.listen) != address_identity(out.admin_listen))
    return;
  if (admin.has("listen")) {
    top.diag().report(admin.value_mark("listen"),
                      "admin.listen " + quoted(out.admin_listen.text) +
                          " is the same address as listen; give the admin API its own port");
  } else {
    top.diag().report(top.value_mark("listen"),
                      "listen " + quoted(out.listen.text) +
                          " is the address admin.listen uses by default; pick another port or "
                          "set admin.listen");
  }
}

// `listen_ok`: the top-level listen holds what the file says (or its default), so the two
// listeners can be compared.
void read_admin(const map_reader& top, config& out, bool listen_ok) {
  map_reader admin(top, "admin", {"listen", "token"});
  bool admin_listen_ok = admin.read_address("listen", out.admin_listen, /*allow_port_zero=*/true) ||
                         !admin.has("listen");
  admin.read_string("token", out.admin_token, /*allow_empty=*/true);
  if (listen_ok && admin_listen_ok) check_listeners_differ(top, admin, out);
}

}  // namespace

void read_config(const YAML::Node& root, config& out, diagnostics& diag) {
  if (!root.IsDefined() || root.IsNull()) {
    diag.report(YAML::Mark(), "the file is empty; a config needs at least pools: and routes:");
    return;
  }
  map_reader top(root, YAML::Mark(), "",
                 {"listen", "admin", "workers", "timeouts", "limits", "access_log", "pools",
                  "routes", "cluster", "checkpoint"},
                 diag);
  if (!top.is_map()) return;

  bool listen_ok =
      top.read_address("listen", out.listen, /*allow_port_zero=*/true) || !top.has("listen");
  read_admin(top, out, listen_ok);
  top.read_whole_number("workers", out.workers, 0, 256);
  read_timeouts(top, out.timeouts);
  read_limits(top, out.limits);
  read_access_log(top, out.access_log);
  read_pools(top, out.pools);
  read_routes(top, out.pools, out.routes);
  read_cluster(top, out.cluster);
  read_checkpoint(top, out.checkpoint);
}

}  // namespace tally::config::detail
