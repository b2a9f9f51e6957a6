// The whole YAML schema of SPEC.md as typed, immutable values. A `config` is built once by
// load_config() and then only read (shared by pointer between threads).
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tally::config {

using duration = std::chrono::milliseconds;

// "host:port" as written by the operator; host is an IPv4/IPv6 literal or a DNS name.
// IPv6 literals are written in brackets: "[::1]:8080".
struct host_port {
  std::string host;  // without brackets
  std::uint16_t port = 0;
  std::string text;  // exactly as configured; used as the backend label
};

enum class tls_version { v1_2, v1_3 };

// One certificate with its key. The files are read when the config is loaded (so a reload
// re-reads them, and a reload with a bad file changes nothing); the PEM text is kept here and the
// proxy builds its TLS contexts from it, never from the files again.
struct tls_certificate_config {
  std::string cert_file;  // paths as configured, for messages and /status
  std::string key_file;
  std::string cert_pem;            // the certificate, then its chain
  std::string key_pem;             // the private key; matches the certificate (checked at load)
  std::vector<std::string> names;  // DNS names of the certificate (SAN, else CN), lower case
  std::int64_t not_after = 0;      // expiry, seconds since the epoch
};

// TLS on a client listener: the certificate is chosen by SNI (exact names, then "*.example.com"
// wildcards); the first certificate answers clients without SNI or with an unknown name.
struct listener_tls_config {
  std::vector<tls_certificate_config> certificates;  // at least one
  tls_version min_version = tls_version::v1_2;
  std::vector<std::string> alpn{"http/1.1"};  // protocols offered, in preference order
};

// One entry of `listen`: `listen: ADDRESS` is one plain listener; a list gives several.
struct listener_config {
  host_port address;
  std::optional<listener_tls_config> tls;
};

// TLS from tally to a pool's backends (and its health checks).
struct upstream_tls_config {
  bool verify = true;
  std::string ca_file;  // as configured; empty = the system's trust store
  std::string ca_pem;   // its content, read at load; empty = the system's trust store
  // Name sent as SNI and verified against the backend's certificate; empty = the backend's host
  // when it is a DNS name (an IP literal is verified as an IP address, and sends no SNI).
  std::string sni;
  std::optional<tls_certificate_config> client_certificate;  // mTLS: `cert` and `key`
  tls_version min_version = tls_version::v1_2;
};

struct timeouts_config {
  duration connect{1000};
  duration request_header{10000};
  duration idle{60000};
  duration upstream_response{30000};
  duration drain{15000};
  // After SIGTERM: keep accepting (with /readyz at 503) this long before draining, so an
  // upstream load balancer notices the replica is leaving before connections are refused.
  duration shutdown_delay{0};
};

struct limits_config {
  std::uint64_t max_header_bytes = 16ull * 1024;
  std::uint64_t max_body_bytes = 100ull * 1024 * 1024;
  std::uint64_t max_connections = 10000;
};

enum class log_level_setting { debug, info, warn, error };
enum class log_format_setting { text, json };

// The operational log on stderr (not the access log).
struct log_config {
  log_level_setting level = log_level_setting::info;
  log_format_setting format = log_format_setting::text;
};

struct access_log_config {
  bool enabled = true;
  std::string path = "-";  // "-" = stdout
};

enum class policy_kind {
  round_robin,
  weighted_round_robin,
  least_connections,
  random_two,
  consistent_hash
};

struct hash_key_config {
  enum class source { client_ip, header, cookie };
  source from = source::client_ip;
  std::string name;  // header or cookie name; empty for client_ip
};

struct backend_config {
  host_port address;
  std::uint32_t weight = 1;  // 0 = takes no new traffic
};

// An inclusive range of acceptable health-check statuses; "200-399" or "204".
struct status_range {
  unsigned low = 200;
  unsigned high = 399;
};

struct health_check_config {
  std::string path = "/healthz";
  duration interval{2000};
  duration timeout{1000};
  unsigned rise = 2;
  unsigned fall = 3;
  std::vector<status_range> expect_status{{200, 399}};  // "200-299,404" gives two ranges
};

struct outlier_config {
  unsigned consecutive_failures = 5;
  duration ejection{30000};
  unsigned max_ejected_percent = 50;
};

enum class retry_condition : unsigned {
  connect_failure = 1u << 0,
  reset = 1u << 1,
  timeout = 1u << 2,
  status_502 = 1u << 3,
  status_503 = 1u << 4,
  status_504 = 1u << 5,
};
inline constexpr std::size_t retry_condition_count = 6;
// The retry.on words in bit order: the config reads them, and tally_retries_total{reason}
// labels retries with them, so the two cannot drift apart.
inline constexpr std::array<std::string_view, retry_condition_count> retry_condition_words{
    "connect_failure", "reset", "timeout", "502", "503", "504"};
inline constexpr std::size_t index_of(retry_condition c) noexcept {
  return static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(c)));
}
inline constexpr std::string_view to_string(retry_condition c) noexcept {
  return retry_condition_words[index_of(c)];
}

struct retry_config {
  unsigned attempts = 2;  // retries after the first try
  duration per_try_timeout{5000};
  unsigned on = 0x3f;  // bit set of retry_condition; default: all six
  unsigned budget_percent = 20;
  duration backoff{25};
  bool retries_on(retry_condition c) const { return (on & static_cast<unsigned>(c)) != 0; }
};

// Requests waiting for a backend at its max_connections: at most `max` wait (per backend), each
// at most `timeout`; beyond either they get 503.
struct queue_config {
  std::uint64_t max = 1000;  // 0 = no waiting: 503 at once when the backend is full
  duration timeout{1000};
};

// etcd service discovery: every key under `prefix` is a backend of the pool, its value JSON
// {"address": "host:port", "weight": N}. Endpoints are http:// URLs (host:port parsed out).
struct etcd_discovery_config {
  std::vector<host_port> endpoints;
  std::string prefix;
  std::string token;  // sent as the Authorization header; empty = none
};

// DNS re-resolution: each backend host name is looked up again every `refresh`, and every
// address it resolves to is a backend.
struct dns_discovery_config {
  duration refresh{5000};
};

struct discovery_config {
  std::optional<dns_discovery_config> dns;
  std::optional<etcd_discovery_config> etcd;
};

struct pool_config {
  std::string name;
  policy_kind policy = policy_kind::round_robin;
  hash_key_config hash_key;
  std::vector<backend_config> backends;
  // Present in the file or not, every pool has these settings (SPEC defaults when absent); the
  // flags say whether the operator wrote the section, for components that are opt-in.
  health_check_config health_check;
  bool health_check_configured = false;
  outlier_config outlier;
  bool outlier_configured = false;
  retry_config retry;
  // Requests in flight per backend on this replica; 0 = unlimited. Beyond it they wait in `queue`.
  std::uint64_t max_connections = 0;
  queue_config queue;
  std::optional<discovery_config> discovery;  // without it, backends are the configured list
  std::optional<upstream_tls_config> tls;     // without it, plain HTTP to the backends
};

struct route_config {
  std::string host;  // empty = any host; "*.example.com" = any subdomain of example.com
  std::string path_prefix = "/";
  std::string pool;            // name of a pool in config::pools
  std::size_t pool_index = 0;  // index into config::pools, filled in by validation
};

struct peer_config {
  std::string id;
  host_port address;  // the peer's admin listener
};

struct cluster_config {
  std::string node_id;
  std::vector<peer_config> peers;
  duration gossip_interval{500};
  duration vote_ttl{3000};
  // Peer HLC stamps (admin changes, messages, signatures) further ahead of this replica's wall
  // clock are refused. CockroachDB's default.
  duration max_clock_offset{500};
};

// Where the admin token came from (for /status and logs, which never show the token itself).
enum class token_source { none, inline_value, file, environment };

struct checkpoint_config {
  std::string path = "./tally-state.json";
  duration interval{5000};
};

struct config {
  std::string source_name;   // file path, or a name given to load_config_string
  std::string content_hash;  // hex SHA-256 of the file's bytes
  std::vector<listener_config> listeners{{{"127.0.0.1", 8080, "127.0.0.1:8080"}, std::nullopt}};
  host_port admin_listen{"127.0.0.1", 9901, "127.0.0.1:9901"};
  std::optional<tls_certificate_config> admin_tls;  // admin.tls: {cert, key}
  // Bearer token for admin writes and /cluster/*, and the key that signs peer messages: from
  // admin.token, or the file admin.token_file names (read at load, so a reload re-reads it),
  // or the environment variable TALLY_ADMIN_TOKEN, which overrides both. Empty = none.
  std::string admin_token;
  std::string admin_token_file;  // the path as configured; empty without admin.token_file
  token_source admin_token_source = token_source::none;
  unsigned workers = 0;  // 0 = one per core
  timeouts_config timeouts;
  limits_config limits;
  log_config log;
  access_log_config access_log;
  std::vector<pool_config> pools;  // in file order
  std::vector<route_config> routes;
  std::optional<cluster_config> cluster;
  std::optional<checkpoint_config> checkpoint;

  const pool_config* find_pool(std::string_view name) const {
    for (const auto& p : pools)
      if (p.name == name) return &p;
    return nullptr;
  }
};

const char* to_string(policy_kind k) noexcept;
const char* to_string(tls_version v) noexcept;  // "1.2", "1.3"
// "none", "admin.token", "admin.token_file", "TALLY_ADMIN_TOKEN"
const char* to_string(token_source s) noexcept;

}  // namespace tally::config
