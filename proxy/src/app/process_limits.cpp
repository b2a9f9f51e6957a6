#include "app/process_limits.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "admin/admin_server.hpp"

namespace tally::proxy {

void prepare_process() {
  ::signal(SIGPIPE, SIG_IGN);
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() returns the lowest free descriptor: this one.
    (void)::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
  }
}

fd_limits current_fd_limits() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return {};
  return {static_cast<std::uint64_t>(r.rlim_cur), static_cast<std::uint64_t>(r.rlim_max)};
}

fd_limits raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &r);  // on failure the old limit stays; the warning says so
  }
  return current_fd_limits();
}

unsigned worker_count(const config::config& cfg) {
  if (cfg.workers > 0) return cfg.workers;
  return std::max(1u, std::thread::hardware_concurrency());
}

std::uint64_t descriptors_needed(const config::config& cfg) {
  std::uint64_t backends = 0;
  for (const auto& p : cfg.pools)
    backends += p.backends.size();
  const std::uint64_t peers = cfg.cluster ? cfg.cluster->peers.size() : 0;
  // Per worker: its listener, epoll and eventfd; then stdio, logs, the checkpoint file, the
  // admin listener and the control loop's own.
  const std::uint64_t reserve = 4ull * worker_count(cfg) + 32;
  return 2 * cfg.limits.max_connections + admin_server::max_connections + backends + 2 * peers +
         reserve;
}

std::uint64_t connections_that_fit(const config::config& cfg, std::uint64_t limit) {
  const auto others = descriptors_needed(cfg) - 2 * cfg.limits.max_connections;
  return limit > others + 2 ? (limit - others) / 2 : 1;
}

std::string fd_budget_warning(const config::config& cfg, std::uint64_t limit) {
  const auto needed = descriptors_needed(cfg);
  if (limit >= needed) return {};
  return "the descriptor limit (" + std::to_string(limit) + ") is below the " +
         std::to_string(needed) + " that limits.max_connections (" +
         std::to_string(cfg.limits.max_connections) +
         ", each with a backend connection), the admin listener, health checks and peers may "
         "need, so tally will hold at most " +
         std::to_string(connections_that_fit(cfg, limit)) +
         " client connections. Raise the limit (ulimit -n, systemd LimitNOFILE=) or set "
         "limits.max_connections to that";
}

}  // namespace tally::proxy
