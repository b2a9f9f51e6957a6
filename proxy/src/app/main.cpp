// The tally command line (SPEC "Command line").
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "app/demo.hpp"
#include "app/process_limits.hpp"
#include "tally/config/load.hpp"
#include "tally/proxy/app.hpp"
#include "tally/proxy/log.hpp"

namespace {

constexpr const char* usage = R"(tally — HTTP/1.1 reverse-proxy load balancer

Usage:
  tally serve -c FILE   run the proxy; SIGHUP reloads FILE, SIGTERM/SIGINT drain and exit
  tally check -c FILE   validate FILE; prints FILE:LINE:COL: message per error; exit 1 if invalid
  tally demo            three built-in backends behind a proxy on 127.0.0.1:8080 (admin :9901)
  tally --version       print the version
  tally --help          this text
)";

// Finds "-c FILE", "--config FILE" or "--config=FILE" after the subcommand.
bool config_path(int argc, char** argv, std::string& path) {
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      path = argv[i + 1];
      return true;
    }
    if (a.rfind("--config=", 0) == 0) {
      path = std::string(a.substr(9));
      return true;
    }
  }
  return false;
}

int check(const std::string& path) {
  auto result = tally::config::load_config_file(path);
  for (const auto& e : result.errors)
    std::cout << e.to_string() << "\n";
  if (!result.ok()) return 1;
  // `tally serve` raises the soft limit to the hard one: judge the config against that.
  auto warning =
      tally::proxy::fd_budget_warning(*result.value, tally::proxy::current_fd_limits().hard);
  if (!warning.empty()) std::cout << path << ": warning: " << warning << "\n";
  std::cout << path << ": ok\n";
  return 0;
}

int serve(const std::string& path) {
  auto result = tally::config::load_config_file(path);
  if (!result.ok()) {
    for (const auto& e : result.errors)
      std::cerr << e.to_string() << "\n";
    std::cerr << "tally: not starting: " << path << " has errors (run `tally check -c " << path
              << "`)\n";
    return 1;
  }
  auto limits = tally::proxy::raise_fd_limit();
  auto warning = tally::proxy::fd_budget_warning(*result.value, limits.soft);
  if (!warning.empty()) tally::proxy::log_warn(warning);
  try {
    tally::proxy::app a(result.value, {path, true});
    a.start();
    return a.run();
  } catch (const std::exception& e) {
    std::cerr << "tally: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  tally::proxy::prepare_process();
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << usage;
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "tally " << TALLY_VERSION << "\n";
    return 0;
  }
  if (cmd == "demo") return tally::proxy::run_demo();
  if (cmd == "serve" || cmd == "check") {
    std::string path;
    if (!config_path(argc, argv, path)) {
      std::cerr << "tally " << cmd << ": missing -c FILE (the YAML config to "
                << (cmd == "serve" ? "run" : "validate") << ")\n";
      return 2;
    }
    return cmd == "serve" ? serve(path) : check(path);
  }
  std::cerr << "tally: unknown command \"" << cmd << "\"\n\n" << usage;
  return 2;
}
