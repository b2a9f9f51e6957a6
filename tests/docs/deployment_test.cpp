// The deployment files that cannot run here (no Docker engine, no Kubernetes cluster) are checked
// for structure, and the image's health check script runs against a real tally.
#include <doctest/doctest.h>

#include <map>

#include <yaml-cpp/yaml.h>

#include "docs/docs_support.hpp"

using namespace tally::test;
using namespace tally::test::docs;

namespace {

fs::path docker_dir() {
  return source_dir() / "docker";
}

std::map<std::string, YAML::Node> kubernetes_objects() {
  std::map<std::string, YAML::Node> out;  // "Kind/name"
  for (const auto& doc :
       YAML::LoadAllFromFile((source_dir() / "examples" / "kubernetes" / "tally.yaml").string())) {
    if (!doc.IsMap()) continue;
    out[doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>()] = doc;
  }
  return out;
}

YAML::Node container_named(const YAML::Node& list, const std::string& name) {
  for (const auto& c : list)
    if (c["name"].as<std::string>() == name) return c;
  return {};
}

// A compose service's setting, looked up through a `<<: *anchor` merge key as compose does
// (yaml-cpp resolves the alias but not the merge).
YAML::Node service_setting(const YAML::Node& service, const std::string& key) {
  if (service[key].IsDefined()) return service[key];
  if (service["<<"].IsMap() && service["<<"][key].IsDefined()) return service["<<"][key];
  return {};
}

bool has_port(const YAML::Node& container, const std::string& name, int port) {
  for (const auto& p : container["ports"])
    if (p["name"].as<std::string>() == name && p["containerPort"].as<int>() == port) return true;
  return false;
}

}  // namespace

TEST_CASE(
    "Kubernetes: a StatefulSet of three, a headless peer Service, a Service, config and token") {
  auto objects = kubernetes_objects();
  REQUIRE(objects.contains("StatefulSet/tally"));
  REQUIRE(objects.contains("Service/tally-peers"));
  REQUIRE(objects.contains("Service/tally"));
  REQUIRE(objects.contains("ConfigMap/tally-config"));
  REQUIRE(objects.contains("Secret/tally-admin-token"));
  for (const auto& [name, doc] : objects) {
    INFO(name);
    CHECK(doc["apiVersion"].IsDefined());
    CHECK(doc["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>() == "tally");
  }

  auto sts = objects["StatefulSet/tally"];
  auto spec = sts["spec"];
  CHECK(spec["replicas"].as<int>() == 3);
  // Stable peer DNS names come from the headless Service the StatefulSet names.
  CHECK(spec["serviceName"].as<std::string>() == "tally-peers");
  auto peers = objects["Service/tally-peers"]["spec"];
  CHECK(peers["clusterIP"].as<std::string>() == "None");
  CHECK(peers["publishNotReadyAddresses"].as<bool>());

  auto labels = spec["template"]["metadata"]["labels"];
  for (const auto* svc : {"Service/tally-peers", "Service/tally"}) {
    for (const auto& sel : objects[svc]["spec"]["selector"]) {
      INFO(svc << " selects " << sel.first.as<std::string>());
      CHECK(labels[sel.first.as<std::string>()].as<std::string>() == sel.second.as<std::string>());
    }
  }
  for (const auto& sel : spec["selector"]["matchLabels"])
    CHECK(labels[sel.first.as<std::string>()].as<std::string>() == sel.second.as<std::string>());

  auto annotations = spec["template"]["metadata"]["annotations"];
  CHECK(annotations["prometheus.io/scrape"].as<std::string>() == "true");
  CHECK(annotations["prometheus.io/port"].as<std::string>() == "9901");
  CHECK(annotations["prometheus.io/path"].as<std::string>() == "/metrics");

  auto pod = spec["template"]["spec"];
  auto tally = container_named(pod["containers"], "tally");
  REQUIRE(tally.IsMap());
  CHECK(has_port(tally, "http", 8080));
  CHECK(has_port(tally, "admin", 9901));
  CHECK(tally["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(tally["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(tally["securityContext"]["allowPrivilegeEscalation"].as<bool>() == false);
  CHECK(tally["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  // The token reaches tally from the Secret, through the environment.
  bool token_from_secret = false;
  for (const auto& e : tally["env"])
    if (e["name"].as<std::string>() == "TALLY_ADMIN_TOKEN" &&
        e["valueFrom"]["secretKeyRef"]["name"].as<std::string>() == "tally-admin-token")
      token_from_secret = true;
  CHECK(token_from_secret);
  CHECK_FALSE(objects["Secret/tally-admin-token"]["stringData"].IsDefined());  // no token here
  CHECK_FALSE(objects["Secret/tally-admin-token"]["data"].IsDefined());

  // Every volume a container mounts is declared, the checkpoint one by the claim template.
  std::set<std::string> volumes;
  for (const auto& v : pod["volumes"])
    volumes.insert(v["name"].as<std::string>());
  for (const auto& v : spec["volumeClaimTemplates"])
    volumes.insert(v["metadata"]["name"].as<std::string>());
  for (const auto* list : {"containers", "initContainers"})
    for (const auto& c : pod[list])
      for (const auto& m : c["volumeMounts"]) {
        INFO(c["name"].as<std::string>() << " mounts " << m["name"].as<std::string>());
        CHECK(volumes.contains(m["name"].as<std::string>()));
      }
  // The config's checkpoint path lies on the state volume.
  auto config = objects["ConfigMap/tally-config"]["data"]["tally.yaml"].as<std::string>();
  CHECK(config.find("path: /var/lib/tally/") != std::string::npos);
  bool state_mounted = false;
  for (const auto& m : tally["volumeMounts"])
    if (m["name"].as<std::string>() == "state" &&
        m["mountPath"].as<std::string>() == "/var/lib/tally")
      state_mounted = true;
  CHECK(state_mounted);
  // terminationGracePeriodSeconds leaves room for timeouts.drain (15s by default).
  CHECK(pod["terminationGracePeriodSeconds"].as<int>() > 15);
}

TEST_CASE("the Kubernetes init script renders a valid config for each replica") {
  REQUIRE(on_path("bash"));
  auto objects = kubernetes_objects();
  auto pod = objects["StatefulSet/tally"]["spec"]["template"]["spec"];
  auto init = container_named(pod["initContainers"], "render-config");
  REQUIRE(init.IsMap());
  auto script = init["command"][2].as<std::string>();
  auto config = objects["ConfigMap/tally-config"]["data"]["tally.yaml"].as<std::string>();

  temp_dir dir;
  dir.write("template.yaml", config);
  fs::create_directories(dir.path() / "bin");
  // Run the script as written, with its two paths moved into the temp dir and `tally` on PATH.
  auto rewritten = std::regex_replace(script, std::regex("/config-template/"),
                                      (dir.path() / "template.").string());
  rewritten = std::regex_replace(rewritten, std::regex("template\\.tally\\.yaml"), "template.yaml");
  fs::create_symlink(TALLY_BINARY, dir.path() / "bin" / "tally");
  for (int i = 0; i < 3; ++i) {
    auto out = dir.path() / ("tally-" + std::to_string(i) + ".yaml");
    auto s = std::regex_replace(rewritten, std::regex("/etc/tally/tally\\.yaml"), out.string());
    auto r = run_command({"env", "PATH=" + (dir.path() / "bin").string() + ":/usr/bin:/bin",
                          "POD_NAME=tally-" + std::to_string(i), "POD_NAMESPACE=prod",
                          "TALLY_ADMIN_TOKEN=docs-test-token", "bash", "-ec", s});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    auto rendered = read_text(out);
    CHECK(rendered.find("node_id: tally-" + std::to_string(i)) != std::string::npos);
    for (int j = 0; j < 3; ++j) {
      auto peer = "{ id: tally-" + std::to_string(j) + ", address: tally-" + std::to_string(j) +
                  ".tally-peers.prod.svc.cluster.local:9901 }";
      CHECK((rendered.find(peer) != std::string::npos) == (i != j));
    }
  }
}

TEST_CASE(
    "compose.yaml: services, mounted files, token from the environment, rules and dashboard") {
  auto compose = YAML::LoadFile((docker_dir() / "compose.yaml").string());
  auto services = compose["services"];
  REQUIRE(services.IsMap());
  for (const auto* name :
       {"lb-1", "lb-2", "lb-3", "backend-1", "backend-2", "backend-3", "prometheus", "grafana"})
    CHECK_MESSAGE(services[name].IsMap(), "no service " << name);

  std::set<std::string> named_volumes;
  for (const auto& v : compose["volumes"])
    named_volumes.insert(v.first.as<std::string>());
  for (const auto& svc : services) {
    auto name = svc.first.as<std::string>();
    for (const auto& v : svc.second["volumes"]) {
      auto spec = v.as<std::string>();
      auto source = spec.substr(0, spec.find(':'));
      INFO(name << " mounts " << spec);
      if (source.starts_with("./")) {
        CHECK(fs::exists(docker_dir() / source));  // a file or directory of docker/
      } else {
        CHECK(named_volumes.contains(source));
      }
    }
  }
  for (const auto* lb : {"lb-1", "lb-2", "lb-3"}) {
    auto svc = services[lb];
    INFO(lb);
    // The token is passed to tally itself; no wrapper entrypoint rewrites the config.
    CHECK(service_setting(svc, "image").IsScalar());  // the merge key is resolved
    CHECK_FALSE(service_setting(svc, "entrypoint").IsScalar());
    CHECK_FALSE(service_setting(svc, "entrypoint").IsSequence());
    auto env = service_setting(svc, "environment");
    REQUIRE(env.IsMap());
    auto token = env["TALLY_ADMIN_TOKEN"].as<std::string>();
    CHECK(token.starts_with("${TALLY_ADMIN_TOKEN:?"));  // required, no default token
  }
  auto config = read_text(docker_dir() / "prometheus.yml");
  CHECK(config.find("/etc/prometheus/alerts.yml") != std::string::npos);
  bool rules_mounted = false;
  for (const auto& v : services["prometheus"]["volumes"])
    if (v.as<std::string>() == "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro")
      rules_mounted = true;
  CHECK(rules_mounted);
  // The shipped configs keep no token: it comes from the environment only.
  for (const auto& f : files_in(docker_dir(), {".yaml"})) {
    if (!f.filename().string().starts_with("tally")) continue;
    INFO(f.string());
    auto config = YAML::LoadFile(f.string());
    CHECK_FALSE(config["admin"]["token"].IsDefined());
  }
}

TEST_CASE("Dockerfile: debian:12-slim runtime, health check script, no config rewriting wrapper") {
  auto dockerfile = read_text(docker_dir() / "Dockerfile");
  auto runtime = dockerfile.substr(dockerfile.rfind("\nFROM "));
  CHECK(runtime.starts_with("\nFROM debian:12-slim"));
  CHECK(runtime.find("HEALTHCHECK") != std::string::npos);
  CHECK(runtime.find("tally-healthcheck") != std::string::npos);
  CHECK(runtime.find("USER tally") != std::string::npos);
  CHECK(dockerfile.find("tally-entrypoint") == std::string::npos);
  // Every file the Dockerfile copies from the context exists.
  static const std::regex copy(R"(\nCOPY (?!--from)(\S+) )");
  int copies = 0;
  for (auto it = std::sregex_iterator(dockerfile.begin(), dockerfile.end(), copy);
       it != std::sregex_iterator(); ++it, ++copies)
    CHECK_MESSAGE(fs::exists(source_dir() / (*it)[1].str()), (*it)[1].str());
  CHECK(copies >= 5);
  // The build stage copies only what CMake reads: every add_subdirectory of the root
  // CMakeLists.txt except tests (TALLY_BUILD_TESTS=OFF there).
  auto cmake = read_text(source_dir() / "CMakeLists.txt");
  static const std::regex subdir(R"(add_subdirectory\((\w+)\))");
  int subdirs = 0;
  for (auto it = std::sregex_iterator(cmake.begin(), cmake.end(), subdir);
       it != std::sregex_iterator(); ++it) {
    auto dir = (*it)[1].str();
    if (dir == "tests") continue;
    ++subdirs;
    CHECK_MESSAGE(dockerfile.find("\nCOPY " + dir + " ./" + dir + "\n") != std::string::npos,
                  "the Dockerfile's build stage does not copy " << dir << "/");
  }
  CHECK(subdirs >= 5);
}

TEST_CASE("shellcheck passes the shipped shell scripts") {
  REQUIRE_MESSAGE(on_path("shellcheck"), "shellcheck is missing: run scripts/install-deps.sh test");
  for (const auto& script :
       {docker_dir() / "tally-healthcheck.sh", source_dir() / "scripts" / "check-deploy.sh"}) {
    auto r = run_command({"shellcheck", script.string()});
    INFO(script.string() << "\n" << r.output);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("tally-healthcheck follows admin.listen to a running tally") {
  running_tally tally(scrape_config());
  REQUIRE(tally.started());
  auto script = (docker_dir() / "tally-healthcheck.sh").string();
  auto port = std::to_string(tally.admin_port());
  temp_dir dir;
  // The same address written the ways operators write it.
  auto block = dir.write("block.yaml",
                         "listen: 0.0.0.0:8080\nadmin:\n  # the admin API\n"
                         "  token: x\n  listen: \"0.0.0.0:" +
                             port + "\"  # all\n");
  auto flow = dir.write("flow.yaml", "admin: { token: x, listen: 127.0.0.1:" + port + " }\n");
  for (const auto& config : {block, flow}) {
    auto r = run_command({"env", "TALLY_CONFIG=" + config, "bash", script});
    INFO(config << "\n" << read_text(config) << r.output);
    CHECK(r.exit_code == 0);
  }
  // A config naming another port fails the check.
  auto wrong = dir.write("wrong.yaml", "admin: { listen: 127.0.0.1:1 }\n");
  auto r = run_command({"env", "TALLY_CONFIG=" + wrong, "bash", script});
  CHECK(r.exit_code != 0);
  // Without admin.listen, tally's default is used.
  auto none = dir.write("none.yaml", "listen: 0.0.0.0:8080\n");
  auto d = run_command({"env", "TALLY_CONFIG=" + none, "bash", script, "--print-address"});
  CHECK(d.output == "127.0.0.1 9901\n");
}
