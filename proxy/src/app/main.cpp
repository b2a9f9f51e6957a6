// The tally command line (SPEC "Command line").
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "app/demo.hpp"
#include "app/process_limits.hpp"
#include "observability/build_info.hpp"
#include "tally/config/load.hpp"
#include "tally/proxy/app.hpp"
#include "tally/proxy/log.hpp"

namespace {

// Where packages and the docker image put the config (packaging/, docker/).
constexpr const char* default_config_path = "/etc/tally/tally.yaml";

constexpr const char* usage = R"(tally — HTTP/1.1 reverse-proxy load balancer

Usage:
  tally serve [-c FILE]   run the proxy; SIGHUP reloads FILE, SIGTERM/SIGINT drain and exit
  tally check [-c FILE]   validate FILE; prints FILE:LINE:COL: message per error; exit 1 if invalid
  tally demo              three built-in backends behind a proxy on 127.0.0.1:8080 (admin :9901)
  tally --version         version, commit, compiler, Boost and OpenSSL versions
  tally --help            this text

  -c, --config FILE       the YAML config (default /etc/tally/tally.yaml)
  TALLY_ADMIN_TOKEN       overrides admin.token / admin.token_file
)";

int usage_error(std::string_view what) {
  std::cerr << "tally: " << what << "\n\n" << usage;
  return 2;
}

// The config path of `serve`/`check`: "-c FILE", "--config FILE" or "--config=FILE", else the
// default. nullopt (after printing why) when an argument is not one of those.
std::optional<std::string> config_path(int argc, char** argv) {
  std::string path = default_config_path;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= argc || std::string_view(argv[i + 1]).empty()) {
        usage_error(std::string(a) + " needs a FILE");
        return std::nullopt;
      }
      path = argv[++i];
    } else if (a.starts_with("--config=") && a.size() > 9) {
      path = std::string(a.substr(9));
    } else {
      usage_error("unknown option \"" + std::string(a) + "\" for " + argv[1]);
      return std::nullopt;
    }
  }
  return path;
}

// Errors go to stderr, the verdict to stdout, so `tally check -c F >/dev/null` still shows why.
int check(const std::string& path) {
  auto result = tally::config::load_config_file(path);
  for (const auto& e : result.errors)
    std::cerr << e.to_string() << "\n";
  // Warnings (a certificate close to its expiry) do not make the file invalid.
  for (const auto& w : result.warnings)
    std::cerr << "warning: " << w.to_string() << "\n";
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
  tally::proxy::apply_log_settings(*result.value);
  for (const auto& w : result.warnings)
    tally::proxy::log_warn(w.to_string());
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

int version() {
  const auto& b = tally::proxy::this_build();
  std::cout << "tally " << b.version << "\ncommit: " << b.commit << "\ncompiler: " << b.compiler
            << "\nboost: " << b.boost << "\nopenssl: " << b.openssl << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tally::proxy::prepare_process();
  if (argc < 2) return usage_error("missing command");
  const std::string_view cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << usage;
    return 0;
  }
  if (cmd == "--version" || cmd == "version")
    return argc == 2 ? version() : usage_error("--version takes no arguments");
  if (cmd == "demo") {
    if (argc > 2) return usage_error("unknown option \"" + std::string(argv[2]) + "\" for demo");
    return tally::proxy::run_demo();
  }
  if (cmd == "serve" || cmd == "check") {
    auto path = config_path(argc, argv);
    if (!path) return 2;
    return cmd == "serve" ? serve(*path) : check(*path);
  }
  return usage_error("unknown command \"" + std::string(cmd) + "\"");
}
