// A whole tally process: the proxy workers, the control loop (admin API, signals, reload,
// shutdown) and the state they share. `tally serve`, `tally demo` and the integration tests all
// run one of these.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tally/config/config.hpp"

namespace tally::proxy {

// log.level and log.format of `cfg` for the operational log; app applies it at start and on
// every reload, `tally serve` before its first line.
void apply_log_settings(const config::config& cfg);

struct app_options {
  // File to re-read on SIGHUP and POST /reload; empty = the config came from elsewhere.
  std::string config_path;
  bool handle_signals = true;  // SIGINT/SIGTERM drain and exit, SIGHUP reloads
};

class app {
 public:
  app(std::shared_ptr<const config::config> cfg, app_options options = {});
  ~app();

  // Builds the routing snapshot and binds the listeners. Throws std::runtime_error with a
  // message for the operator on failure (address in use, unresolvable backend).
  void start();
  std::uint16_t proxy_port() const;                // the first listener's
  std::vector<std::uint16_t> proxy_ports() const;  // every listener's, in config order
  std::uint16_t admin_port() const;

  // Runs the control loop on the calling thread until shutdown finishes. Returns the exit code.
  int run();
  // Thread-safe: stop accepting, let requests in flight finish (up to timeouts.drain), exit.
  void shutdown();
  // Thread-safe: re-read options.config_path. Returns the errors as text (empty on success).
  std::string reload();

 private:
  std::string listening_detail() const;

  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tally::proxy
