// Every config the repository ships (examples/, docker/, packaging/, the Kubernetes ConfigMap)
// passes `tally check`, and examples/every-key.yaml really uses every documented key.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "docs/docs_support.hpp"

using namespace tally::test;
using namespace tally::test::docs;

namespace {

// The shipped configs take the admin token from the environment (docker, Kubernetes, systemd),
// and tally will refuse a non-loopback admin listener without one: give them one, as operators do.
void set_admin_token_env() {
  ::setenv("TALLY_ADMIN_TOKEN", "docs-test-token", 1);
}

void check_passes(const fs::path& file) {
  auto r = tally_check(file.string());
  INFO(file.string() << ":\n" << r.output);
  CHECK(r.exit_code == 0);
}

// Every key path of `node` in the documented form (`pools.<name>.backends[].address`); a map is
// a map of names when the documentation has `<prefix>.<name>.` keys.
void collect_paths(const YAML::Node& node, const std::string& prefix,
                   const std::set<std::string>& documented, std::set<std::string>& out) {
  if (node.IsMap()) {
    bool named = false;
    for (const auto& k : documented)
      if (k.starts_with(prefix + ".<name>.")) named = true;
    for (const auto& pair : node) {
      std::string path = named
                             ? prefix + ".<name>"
                             : (prefix.empty() ? "" : prefix + ".") + pair.first.as<std::string>();
      if (!named) out.insert(path);
      collect_paths(pair.second, path, documented, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node)
      if (item.IsMap()) collect_paths(item, prefix + "[]", documented, out);
  }
}

}  // namespace

TEST_CASE("every examples/*.yaml passes tally check") {
  set_admin_token_env();
  auto files = files_in(source_dir() / "examples", {".yaml", ".yml"});
  REQUIRE(files.size() >= 5);
  for (const auto& f : files)
    check_passes(f);
}

TEST_CASE("the docker/ and packaging/ configs pass tally check") {
  set_admin_token_env();
  auto files = files_in(source_dir() / "docker", {".yaml"});
  std::erase_if(files,
                [](const fs::path& p) { return !p.filename().string().starts_with("tally"); });
  REQUIRE(files.size() >= 4);  // tally.yaml and tally-lb-1..3.yaml
  files.push_back(source_dir() / "packaging" / "tally.yaml");
  for (const auto& f : files)
    check_passes(f);
}

TEST_CASE("the tally.yaml in the Kubernetes ConfigMap passes tally check") {
  set_admin_token_env();
  auto docs =
      YAML::LoadAllFromFile((source_dir() / "examples" / "kubernetes" / "tally.yaml").string());
  std::string config;
  for (const auto& d : docs)
    if (d["kind"] && d["kind"].as<std::string>() == "ConfigMap")
      config = d["data"]["tally.yaml"].as<std::string>();
  REQUIRE_MESSAGE(!config.empty(), "no ConfigMap with data.tally.yaml");
  temp_dir dir;
  check_passes(dir.write("configmap-tally.yaml", config));
}

TEST_CASE("examples/every-key.yaml uses every key docs/configuration.md documents") {
  auto text = read_text(source_dir() / "docs" / "configuration.md");
  auto keys = table_keys(text, "## Planned");
  std::set<std::string> documented(keys.begin(), keys.end());
  REQUIRE(documented.size() > 20);

  std::set<std::string> used;
  collect_paths(YAML::LoadFile((source_dir() / "examples" / "every-key.yaml").string()), "",
                documented, used);
  // Keys that exclude each other: one file can show only one of them.
  const std::map<std::string, std::string> alternative_of{{"admin.token_file", "admin.token"},
                                                          {"admin.tls", "cluster.peers"},
                                                          {"admin.tls.cert", "cluster.peers"},
                                                          {"admin.tls.key", "cluster.peers"}};
  std::set<std::string> unused;
  for (const auto& k : documented) {
    auto alt = alternative_of.find(k);
    if (!used.contains(k) && !(alt != alternative_of.end() && used.contains(alt->second)))
      unused.insert(k);
  }
  CHECK_MESSAGE(unused.empty(),
                "documented keys missing from examples/every-key.yaml: " << joined(unused));
}

TEST_CASE("tally check rejects an example with one key too many (the check above can fail)") {
  temp_dir dir;
  auto text = read_text(source_dir() / "examples" / "every-key.yaml");
  REQUIRE(!text.empty());
  auto file = dir.write("broken.yaml", text + "not_a_tally_key: 1\n");
  auto r = tally_check(file);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("not_a_tally_key") != std::string::npos);
}
