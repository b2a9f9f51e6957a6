// A tally instance inside the test process: config from YAML text, listeners on port 0, the
// control loop on its own thread; the destructor drains and joins it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tally/proxy/app.hpp"

namespace tally::test {

class proxy_fixture {
 public:
  // `yaml` is a complete config; use proxy_yaml() to make one.
  explicit proxy_fixture(const std::string& yaml);
  // Writes `yaml` to `config_file` and starts from that file, so app().reload() re-reads it.
  proxy_fixture(const std::string& yaml, const std::string& config_file);
  ~proxy_fixture();
  proxy_fixture(const proxy_fixture&) = delete;
  proxy_fixture& operator=(const proxy_fixture&) = delete;

  std::uint16_t port() const { return app_->proxy_port(); }
  std::uint16_t admin_port() const { return app_->admin_port(); }
  proxy::app& app() { return *app_; }

 private:
  std::unique_ptr<proxy::app> app_;
  std::thread thread_;
};

struct pool_spec {
  std::string name = "web";
  std::string policy = "round_robin";
  std::vector<std::string> backends;   // "127.0.0.1:PORT" or "127.0.0.1:PORT weight" lines
  std::vector<std::uint32_t> weights;  // optional, same length as backends
  std::string extra;                   // more pool keys, already indented by 4 spaces
};

// A config listening on 127.0.0.1:0 (proxy and admin) with the given pools, a catch-all route
// to the first pool, and `top_extra` (top-level keys) appended. `routes` replaces the catch-all.
std::string proxy_yaml(const std::vector<pool_spec>& pools, const std::string& top_extra = "",
                       const std::string& routes = "");

}  // namespace tally::test
