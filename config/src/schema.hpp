// The YAML schema of SPEC.md, one reader per part. Each reads what the file says into the typed
// structs (absent keys keep the struct defaults) and reports every problem to the diagnostics
// of the map_reader it is given; none of them stops at the first problem.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "diagnostics.hpp"
#include "map_reader.hpp"
#include "tally/config/config.hpp"

namespace tally::config::detail {

// The whole document: the top level and everything under it. (schema_top.cpp)
// `options` brings what overrides the file (TALLY_ADMIN_TOKEN).
void read_config(const YAML::Node& root, config& out, diagnostics& diag,
                 const load_options& options);

// Where a listener was written, for checks across listeners (admin.listen must differ).
struct listener_place {
  std::string field;  // "listen", "listen[1]"
  YAML::Mark at;      // its address
};

// `listen:`, one address or a list of listeners; `places` gets one entry per listener.
// Returns false (out untouched) when an address could not be read. (schema_listen.cpp)
// `now` (seconds since the epoch) judges certificate expiry, here and below.
bool read_listeners(const map_reader& top, std::vector<listener_config>& out,
                    std::vector<listener_place>& places, std::int64_t now);

// The TLS sections: `tls` of a listener, of admin and of a pool. Each reads the files it names
// and warns about certificates that expire within 30 days. (schema_tls.cpp)
void read_listener_tls(const map_reader& listener, std::optional<listener_tls_config>& out,
                       std::int64_t now);
void read_admin_tls(const map_reader& admin, std::optional<tls_certificate_config>& out,
                    std::int64_t now);
void read_upstream_tls(const map_reader& pool, std::optional<upstream_tls_config>& out,
                       std::int64_t now);

// A path from the config (admin.token_file, TLS files) resolved against the config file's
// directory, so `tally check` finds the same file from anywhere. (schema_top.cpp)
std::string resolve_beside(const std::string& config_file, const std::string& path);

// `pools:` and each pool's policy, hash_key and backends. (schema_pools.cpp)
void read_pools(const map_reader& top, std::vector<pool_config>& out, std::int64_t now);

// A pool's optional sections. (schema_pool_sections.cpp)
void read_health_check(const map_reader& pool, health_check_config& out);
void read_outlier(const map_reader& pool, outlier_config& out);
void read_retry(const map_reader& pool, retry_config& out);
void read_queue(const map_reader& pool, queue_config& out);
// A pool's optional discovery section. (schema_pool_discovery.cpp)
void read_discovery(const map_reader& pool, std::optional<discovery_config>& out);

// `routes:`; resolves each route's pool against `pools` (read first). (schema_routes.cpp)
void read_routes(const map_reader& top, const std::vector<pool_config>& pools,
                 std::vector<route_config>& out);

// The optional `cluster:` and `checkpoint:` sections. (schema_cluster.cpp)
void read_cluster(const map_reader& top, std::optional<cluster_config>& out);
void read_checkpoint(const map_reader& top, std::optional<checkpoint_config>& out);

}  // namespace tally::config::detail
