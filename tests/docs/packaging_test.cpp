// `cmake --install` puts the binary, a valid config and a hardened, valid systemd unit where the
// unit says they are.
#include <doctest/doctest.h>

#include <map>

#include "docs/docs_support.hpp"

using namespace tally::test;
using namespace tally::test::docs;

namespace {

// The unit's `Key=value` lines (a key given several times keeps every value, in order).
std::multimap<std::string, std::string> unit_settings(const std::string& unit) {
  std::multimap<std::string, std::string> out;
  std::istringstream in(unit);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    auto eq = line.find('=');
    if (eq != std::string::npos) out.emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return out;
}

std::string setting(const std::multimap<std::string, std::string>& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() ? std::string("(unset)") : it->second;
}

// The first word of an Exec line after systemd's prefixes (-, @, +, !, :).
std::string executable_of(std::string exec) {
  while (!exec.empty() && std::string_view("-@+!:").find(exec[0]) != std::string_view::npos)
    exec.erase(0, 1);
  return exec.substr(0, exec.find(' '));
}

// Stages `cmake --install` of this build into `destdir`.
command_result install_into(const fs::path& destdir) {
  return run_command({"env", "DESTDIR=" + destdir.string(), "cmake", "--install", TALLY_BUILD_DIR},
                     120s);
}

struct staged_install {
  temp_dir dir;
  fs::path root = dir.path() / "stage";
  command_result result = install_into(root);
  std::string unit_text;
  fs::path unit_path;

  staged_install() {
    for (const auto& entry : fs::recursive_directory_iterator(root))
      if (entry.path().filename() == "tally.service") unit_path = entry.path();
    if (!unit_path.empty()) unit_text = read_text(unit_path);
  }
  // An absolute path of the installed system, inside the stage.
  fs::path staged(const std::string& absolute) const {
    return root / fs::path(absolute).relative_path();
  }
};

}  // namespace

TEST_CASE(
    "cmake --install stages the binary, the config and the unit in bin, etc/tally and "
    "lib/systemd/system") {
  staged_install s;
  INFO(s.result.output);
  REQUIRE(s.result.exit_code == 0);
  REQUIRE_MESSAGE(!s.unit_path.empty(), "no tally.service installed");
  CHECK(s.unit_path.parent_path().generic_string().ends_with("lib/systemd/system"));

  auto settings = unit_settings(s.unit_text);
  auto exec = setting(settings, "ExecStart");
  auto binary = executable_of(exec);
  INFO("ExecStart=" << exec);
  REQUIRE(binary.starts_with("/"));
  CHECK(binary.ends_with("/bin/tally"));
  CHECK(fs::is_regular_file(s.staged(binary)));
  CHECK(::access(s.staged(binary).c_str(), X_OK) == 0);

  // The config the unit runs with is installed, and valid.
  static const std::regex config_arg(R"(-c (\S+))");
  std::smatch m;
  REQUIRE(std::regex_search(exec, m, config_arg));
  std::string config = m[1];
  CHECK(config.ends_with("/etc/tally/tally.yaml"));
  REQUIRE(fs::is_regular_file(s.staged(config)));
  auto check = run_command({s.staged(binary).string(), "check", "-c", s.staged(config).string()});
  INFO(check.output);
  CHECK(check.exit_code == 0);

  // The staged binary is a working tally.
  auto version = run_command({s.staged(binary).string(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.output.starts_with("tally "));
}

TEST_CASE("a second install keeps an edited config") {
  staged_install s;
  REQUIRE(s.result.exit_code == 0);
  static const std::regex config_arg(R"(-c (\S+))");
  std::smatch m;
  auto exec = setting(unit_settings(s.unit_text), "ExecStart");
  REQUIRE(std::regex_search(exec, m, config_arg));
  auto config = s.staged(m[1]);
  std::ofstream(config, std::ios::app) << "# edited by the operator\n";
  auto again = install_into(s.root);
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(read_text(config).find("# edited by the operator") != std::string::npos);
}

TEST_CASE("the systemd unit is hardened and reloads with SIGHUP") {
  auto unit = read_text(source_dir() / "packaging" / "tally.service.in");
  REQUIRE(!unit.empty());
  auto s = unit_settings(unit);
  const std::map<std::string, std::string> required{
      {"NoNewPrivileges", "yes"},
      {"ProtectSystem", "strict"},
      {"ProtectHome", "yes"},
      {"PrivateTmp", "yes"},
      {"PrivateDevices", "yes"},
      {"StateDirectory", "tally"},
      {"DynamicUser", "yes"},
      {"ExecReload", "/bin/kill -HUP $MAINPID"},
      {"LimitNOFILE", "1048576"},
      {"KillSignal", "SIGTERM"},
      {"RestrictSUIDSGID", "yes"},
      {"ProtectKernelTunables", "yes"},
      {"MemoryDenyWriteExecute", "yes"},
      {"CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"},
  };
  for (const auto& [key, value] : required)
    CHECK_MESSAGE(setting(s, key) == value, key << "=" << setting(s, key) << ", want " << value);
  // The checkpoint in the example config lives in the StateDirectory.
  auto config = read_text(source_dir() / "packaging" / "tally.yaml");
  CHECK(config.find("path: /var/lib/tally/") != std::string::npos);
}

TEST_CASE("systemd-analyze verifies the installed unit and rates it well hardened") {
  REQUIRE_MESSAGE(on_path("systemd-analyze"),
                  "systemd-analyze is missing: run scripts/install-deps.sh test (package systemd)");
  staged_install s;
  REQUIRE(s.result.exit_code == 0);
  REQUIRE(!s.unit_path.empty());
  // systemd-analyze checks that ExecStart exists on this system: point it at the staged binary.
  auto binary = executable_of(setting(unit_settings(s.unit_text), "ExecStart"));
  auto unit = s.unit_text;
  for (auto at = unit.find(binary); at != std::string::npos; at = unit.find(binary, at + 1)) {
    unit.replace(at, binary.size(), s.staged(binary).string());
    at += s.staged(binary).string().size() - 1;
  }
  temp_dir dir;
  auto unit_file = dir.write("tally.service", unit);

  auto verify = run_command({"systemd-analyze", "verify", unit_file});
  INFO(verify.output);
  CHECK(verify.exit_code == 0);
  // verify exits 0 on unknown keys and bad values too; it must have nothing to say.
  CHECK(verify.output.empty());

  auto security = run_command({"systemd-analyze", "security", "--offline=yes", unit_file});
  static const std::regex level(R"(Overall exposure level for tally\.service: ([0-9.]+))");
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(security.output, m, level), security.output);
  CHECK_MESSAGE(std::stod(m[1]) <= 2.5, "exposure " << m[1] << " (0 = locked down, 10 = none)");
}

TEST_CASE("systemd-analyze verify complains about a broken unit (the check above can fail)") {
  REQUIRE(on_path("systemd-analyze"));
  temp_dir dir;
  auto unit = dir.write("broken.service",
                        "[Service]\nExecStart=/bin/true\nProtectSystem=bogus\nNoSuchKey=1\n");
  auto verify = run_command({"systemd-analyze", "verify", unit});
  CHECK_FALSE(verify.output.empty());
}
