#include "proxy_fixture.hpp"

#include <fstream>
#include <stdexcept>

#include "tally/config/load.hpp"

namespace tally::test {

proxy_fixture::proxy_fixture(const std::string& yaml) : proxy_fixture(yaml, std::string()) {}

proxy_fixture::proxy_fixture(const std::string& yaml, const std::string& config_file) {
  if (!config_file.empty()) std::ofstream(config_file) << yaml;
  auto loaded = config_file.empty() ? config::load_config_string(yaml, "test.yaml")
                                    : config::load_config_file(config_file);
  if (!loaded.ok()) {
    std::string text = "test config is invalid:\n";
    for (const auto& e : loaded.errors)
      text += e.to_string() + "\n";
    throw std::runtime_error(text + yaml);
  }
  app_ = std::make_unique<proxy::app>(loaded.value, proxy::app_options{config_file, false});
  app_->start();
  thread_ = std::thread([this] { app_->run(); });
}

proxy_fixture::~proxy_fixture() {
  app_->shutdown();
  if (thread_.joinable()) thread_.join();
}

std::string proxy_yaml(const std::vector<pool_spec>& pools, const std::string& top_extra,
                       const std::string& routes) {
  std::string y = "listen: 127.0.0.1:0\n";
  if (top_extra.find("admin:") == std::string::npos) y += "admin: { listen: 127.0.0.1:0 }\n";
  if (top_extra.find("workers:") == std::string::npos) y += "workers: 2\n";
  if (top_extra.find("access_log:") == std::string::npos) y += "access_log: { enabled: false }\n";
  y += top_extra;
  y += "pools:\n";
  for (const auto& p : pools) {
    y += "  " + p.name + ":\n    policy: " + p.policy + "\n    backends:\n";
    for (std::size_t i = 0; i < p.backends.size(); ++i) {
      y += "      - { address: " + p.backends[i];
      if (i < p.weights.size()) y += ", weight: " + std::to_string(p.weights[i]);
      y += " }\n";
    }
    y += p.extra;
  }
  y += "routes:\n";
  y += routes.empty() ? "  - { path_prefix: /, pool: " + pools.front().name + " }\n" : routes;
  return y;
}

}  // namespace tally::test
