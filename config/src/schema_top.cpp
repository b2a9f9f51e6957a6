// The top level of the file and its small sections: admin, timeouts, limits, access_log.
// (`listen` is in schema_listen.cpp, the TLS sections in schema_tls.cpp.)
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "scalars.hpp"
#include "schema.hpp"
#include "small_file.hpp"

namespace tally::config::detail {
namespace {

void read_timeouts(const map_reader& top, timeouts_config& out) {
  map_reader timeouts(
      top, "timeouts",
      {"connect", "request_header", "idle", "upstream_response", "drain", "shutdown_delay"});
  timeouts.read_duration("connect", out.connect);
  timeouts.read_duration("request_header", out.request_header);
  timeouts.read_duration("idle", out.idle);
  timeouts.read_duration("upstream_response", out.upstream_response);
  timeouts.read_duration("drain", out.drain);
  if (timeouts.read_duration("shutdown_delay", out.shutdown_delay, duration{0}) &&
      out.shutdown_delay > std::chrono::minutes(10)) {
    top.diag().report(timeouts.value_mark("shutdown_delay"),
                      "timeouts.shutdown_delay is over 10m: an orchestrator kills the process long "
                      "before that; use the time your upstream load balancer needs to notice "
                      "(a few health-check intervals)");
  }
}

// Picks `key`'s value among `names` (in enum order); reports the choices otherwise.
template <class Enum, std::size_t N>
void read_choice(const map_reader& section, std::string_view key,
                 const std::array<std::string_view, N>& names, Enum& out) {
  auto text = section.scalar(key, "one of its words");
  if (!text) return;
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == *text) {
      out = static_cast<Enum>(i);
      return;
    }
  }
  std::string choices;
  for (auto n : names)
    choices.append(choices.empty() ? "" : ", ").append(n);
  section.diag().report(section.value_mark(key), section.field(key) + " must be one of: " +
                                                     choices + "; got " + detail::quoted(*text));
}

void read_log(const map_reader& top, log_config& out) {
  map_reader log(top, "log", {"level", "format"});
  read_choice(log, "level", std::array<std::string_view, 4>{"debug", "info", "warn", "error"},
              out.level);
  read_choice(log, "format", std::array<std::string_view, 2>{"text", "json"}, out.format);
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
void check_listeners_differ(const map_reader& top, const map_reader& admin, const config& out,
                            const std::vector<listener_place>& places) {
  const auto admin_identity = address_identity(out.admin_listen);
  for (std::size_t i = 0; i < out.listeners.size() && i < places.size(); ++i) {
    const auto& listen = out.listeners[i].address;
    if (listen.port == 0 || address_identity(listen) != admin_identity) continue;
    if (admin.has("listen")) {
      top.diag().report(admin.value_mark("listen"),
                        "admin.listen " + detail::quoted(out.admin_listen.text) +
                            " is the same address as " + places[i].field +
                            "; give the admin API its own port");
    } else {
      top.diag().report(places[i].at, places[i].field + " " + detail::quoted(listen.text) +
                                          " is the address admin.listen uses by default; pick "
                                          "another port or set admin.listen");
    }
  }
}

// A token is a secret of a line, not a document: anything bigger is the wrong file.
constexpr std::size_t largest_token_bytes = 4096;

// It travels in an HTTP header (Authorization) and keys the peer signatures; a space, a control
// character or a non-ASCII byte would be mangled or refused on the way.
bool is_token_text(std::string_view token) {
  for (unsigned char c : token)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

const char* token_text_rule() {
  return "must be printable ASCII without spaces (it is sent in an HTTP header)";
}

// The token the file holds, with the trailing newline(s) an editor or `echo` adds removed;
// `problem` says what is wrong otherwise.
std::optional<std::string> read_token_file(const std::string& path, std::string& problem) {
  auto read = read_small_file(path, largest_token_bytes,
                              "it is larger than 4KiB; it should hold the token alone", problem);
  if (!read) return std::nullopt;
  auto& bytes = *read;
  while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r'))
    bytes.pop_back();
  return read;
}

// 127.0.0.0/8, ::1, ::ffff:127.x.y.z and the name localhost: only this host can connect.
bool is_loopback(const std::string& host) {
  std::string lower = host;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost") return true;
  unsigned char bytes[16];
  if (::inet_pton(AF_INET, host.c_str(), bytes) == 1) return bytes[0] == 127;
  if (::inet_pton(AF_INET6, host.c_str(), bytes) == 1) {
    static constexpr unsigned char v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(bytes, v6_loopback, 16) == 0) return true;
    static constexpr unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(bytes, v4_mapped, 12) == 0 && bytes[12] == 127;
  }
  return false;
}

// admin.token or admin.token_file, then TALLY_ADMIN_TOKEN over both. Returns false when a
// configured token could not be used (already reported), so no second error piles on.
bool read_admin_token(const map_reader& admin, config& out, const load_options& options) {
  bool ok = true;
  if (admin.read_string("token", out.admin_token, /*allow_empty=*/true) &&
      !out.admin_token.empty()) {
    out.admin_token_source = token_source::inline_value;
    if (!is_token_text(out.admin_token)) {
      admin.diag().report(admin.value_mark("token"),
                          admin.field("token") + " " + token_text_rule());
      ok = false;
    }
  }
  if (admin.has("token_file")) {
    const auto at = admin.value_mark("token_file");
    if (admin.has("token")) {
      admin.diag().report(at,
                          "admin.token and admin.token_file are both set; keep one "
                          "(token_file keeps the secret out of this file)");
      ok = false;
    } else if (admin.read_string("token_file", out.admin_token_file)) {
      const auto path = resolve_beside(admin.diag().file(), out.admin_token_file);
      std::string problem;
      auto token = read_token_file(path, problem);
      if (!token) {
        admin.diag().report(at, "admin.token_file " + detail::quoted(path) +
                                    " cannot be read: " + problem +
                                    "; create it with the token as its only line, "
                                    "readable by tally's user, or fix the path");
        ok = false;
      } else if (token->empty()) {
        admin.diag().report(at, "admin.token_file " + detail::quoted(path) +
                                    " is empty; write the token into it (one line)");
        ok = false;
      } else if (!is_token_text(*token)) {
        admin.diag().report(at, "the token in admin.token_file " + detail::quoted(path) + " " +
                                    token_text_rule() + "; only a trailing newline is trimmed");
        ok = false;
      } else {
        out.admin_token = std::move(*token);
        out.admin_token_source = token_source::file;
      }
    } else {
      ok = false;
    }
  }
  if (options.admin_token_override && !options.admin_token_override->empty()) {
    if (!is_token_text(*options.admin_token_override)) {
      admin.diag().report_unplaced(std::string("the environment variable TALLY_ADMIN_TOKEN ") +
                                   token_text_rule() + "; fix it or unset it");
      return false;
    }
    out.admin_token = *options.admin_token_override;
    out.admin_token_source = token_source::environment;
    return true;  // whatever the file said about the token no longer applies
  }
  return ok;
}

// `listen_ok`: the listeners hold what the file says (or the default), at `places`, so they can
// be compared with the admin listener.
void read_admin(const map_reader& top, config& out, bool listen_ok,
                const std::vector<listener_place>& places, const load_options& options,
                std::int64_t now) {
  map_reader admin(top, "admin", {"listen", "token", "token_file", "tls"});
  bool admin_listen_ok = admin.read_address("listen", out.admin_listen, /*allow_port_zero=*/true) ||
                         !admin.has("listen");
  const bool token_ok = read_admin_token(admin, out, options);
  if (admin.has("tls")) read_admin_tls(admin, out.admin_tls, now);
  if (listen_ok && admin_listen_ok) check_listeners_differ(top, admin, out, places);
  // Secure by default: the admin listener also serves /cluster/*, so without a token anyone who
  // can reach it could drain backends and vote them down.
  if (admin_listen_ok && token_ok && out.admin_token.empty() &&
      !is_loopback(out.admin_listen.host)) {
    const auto at = admin.has("listen") ? admin.value_mark("listen") : top.mark();
    top.diag().report(at, "admin.listen " + detail::quoted(out.admin_listen.text) +
                              " is reachable from other hosts and no admin token is set, so "
                              "anyone there could drain backends and forge cluster votes: set "
                              "admin.token_file (or admin.token, or the environment variable "
                              "TALLY_ADMIN_TOKEN), or listen on a loopback address such as "
                              "127.0.0.1:" +
                              std::to_string(out.admin_listen.port));
  }
}

// Seconds since the epoch: the pinned time of the options, else the wall clock.
std::int64_t now_seconds(const load_options& options) {
  auto now = options.now.value_or(std::chrono::system_clock::now());
  return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
}

}  // namespace

std::string resolve_beside(const std::string& config_file, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(config_file).parent_path() / p).string();
}

void read_config(const YAML::Node& root, config& out, diagnostics& diag,
                 const load_options& options) {
  if (!root.IsDefined() || root.IsNull()) {
    diag.report(YAML::Mark(), "the file is empty; a config needs at least pools: and routes:");
    return;
  }
  map_reader top(root, YAML::Mark(), "",
                 {"listen", "admin", "workers", "log", "timeouts", "limits", "access_log", "pools",
                  "routes", "cluster", "checkpoint"},
                 diag);
  if (!top.is_map()) return;

  const auto now = now_seconds(options);
  std::vector<listener_place> places;
  const bool listen_ok = read_listeners(top, out.listeners, places, now);
  read_admin(top, out, listen_ok, places, options, now);
  top.read_whole_number("workers", out.workers, 0, 256);
  read_log(top, out.log);
  read_timeouts(top, out.timeouts);
  read_limits(top, out.limits);
  read_access_log(top, out.access_log);
  read_pools(top, out.pools, now);
  read_routes(top, out.pools, out.routes);
  read_cluster(top, out.cluster);
  read_checkpoint(top, out.checkpoint);
  // Replicas call each other's admin listener (votes, admin changes, checkpoints) with a plain
  // HTTP client, so a TLS admin listener would cut the cluster apart.
  if (out.admin_tls && out.cluster && !out.cluster->peers.empty())
    diag.report(top.value_mark("admin"),
                "admin.tls cannot be combined with cluster.peers in this version: replicas reach "
                "each other's admin listener over plain HTTP (every peer message is signed with "
                "the admin token); remove admin.tls, or keep the admin listener on a private "
                "network");
}

}  // namespace tally::config::detail
