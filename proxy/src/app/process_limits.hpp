// Process-wide set-up that must happen before any socket opens: SIGPIPE ignored, the standard
// descriptors held open, the descriptor limit raised, and a warning when the config cannot fit
// in it (issue 11: out of descriptors, a proxy must refuse work, not spin or fail backends).
#pragma once

#include <cstdint>
#include <string>

#include "tally/config/config.hpp"

namespace tally::proxy {

// SIGPIPE ignored (a write to a closed socket or pipe returns EPIPE instead of killing the
// process); a closed stdin, stdout or stderr reopened on /dev/null, so a socket can never take
// descriptor 2 and receive log lines.
void prepare_process();

struct fd_limits {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

fd_limits current_fd_limits();
// Raises the soft RLIMIT_NOFILE to the hard one (what systemd and ulimit -Hn allow); returns the
// limits in force afterwards.
fd_limits raise_fd_limit();

// Proxy workers the config runs: `workers`, or one per core.
unsigned worker_count(const config::config& cfg);

// Descriptors the config may need at its limits: a client and a backend connection for each of
// limits.max_connections, the admin listener's connections, one health check per backend, the
// peers, and a fixed reserve for listeners, event loops and files.
std::uint64_t descriptors_needed(const config::config& cfg);

// Client connections that fit in `limit` descriptors beside everything else `cfg` needs (at
// least 1). tally holds no more than this many whatever limits.max_connections says: a process
// out of descriptors cannot run its health checks, write its logs or even accept to refuse, and
// the sanitizer runtimes need a descriptor to check a virtual call (issue 11).
std::uint64_t connections_that_fit(const config::config& cfg, std::uint64_t limit);

// A message for the operator when `limit` descriptors cannot hold what `cfg` may need; empty
// when it fits.
std::string fd_budget_warning(const config::config& cfg, std::uint64_t limit);

}  // namespace tally::proxy
