// docs/metrics.md, the Prometheus alert rules and the Grafana dashboard agree with the metric
// families a real tally exports, and promtool accepts the rules and their unit tests.
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "docs/docs_support.hpp"

using namespace tally::test;
using namespace tally::test::docs;
namespace json = boost::json;

namespace {

fs::path docker_dir() {
  return source_dir() / "docker";
}
fs::path alerts_file() {
  return docker_dir() / "prometheus" / "alerts.yml";
}
fs::path dashboard_file() {
  return docker_dir() / "grafana" / "dashboards" / "tally.json";
}

std::set<std::string> as_set(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

// Every "expr" string anywhere in the dashboard.
void collect_exprs(const json::value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [key, value] : v.as_object()) {
      if (key == "expr" && value.is_string()) out.emplace_back(value.as_string());
      collect_exprs(value, out);
    }
  } else if (v.is_array()) {
    for (const auto& item : v.as_array())
      collect_exprs(item, out);
  }
}

}  // namespace

TEST_CASE("docs/metrics.md lists exactly the families tally exports, and none of them as planned") {
  auto live = live_metric_families();
  REQUIRE_MESSAGE(live.size() >= 10, "could not scrape a running tally");
  auto text = read_text(source_dir() / "docs" / "metrics.md");
  // The "Exported today" table: from its heading up to "## Planned".
  auto exported_part = text.substr(0, text.find("\n## Planned"));
  auto documented = as_set(table_keys_after(exported_part, "## Exported today"));
  auto planned = as_set(table_keys_after(text, "## Planned"));
  REQUIRE(documented.size() >= 10);

  std::set<std::string> undocumented, not_exported, still_planned;
  for (const auto& f : live)
    if (!documented.contains(f)) undocumented.insert(f);
  for (const auto& f : documented)
    if (!live.contains(f)) not_exported.insert(f);
  for (const auto& f : planned)
    if (live.contains(f)) still_planned.insert(f);
  INFO("exported: " << joined(live));
  CHECK_MESSAGE(undocumented.empty(),
                "exported but not in docs/metrics.md: " << joined(undocumented));
  CHECK_MESSAGE(not_exported.empty(),
                "in docs/metrics.md \"Exported today\" but not exported: " << joined(not_exported));
  CHECK_MESSAGE(still_planned.empty(), "exported now, move out of \"Planned\" in docs/metrics.md: "
                                           << joined(still_planned));
}

TEST_CASE("alert rules and dashboard use only metric names tally exports") {
  auto live = live_metric_families();
  REQUIRE(live.size() >= 10);
  auto allowed = live;
  allowed.insert("up");  // Prometheus' own scrape health, used by TallyInstanceDown

  auto rules = read_text(alerts_file());
  REQUIRE(!rules.empty());
  auto in_rules = referenced_metrics(rules, live);
  REQUIRE(in_rules.size() >= 5);
  std::set<std::string> unknown;
  for (const auto& m : in_rules)
    if (!allowed.contains(m)) unknown.insert(m);
  CHECK_MESSAGE(unknown.empty(),
                "alerts.yml uses metrics tally does not export: " << joined(unknown));

  // The alerts the runbook promises exist (docs/operations.md names them).
  for (auto name : {"TallyBackendDown", "TallyClusterPeerLost", "TallyCheckpointFailing",
                    "TallyHigh5xxRatio", "TallyRetryBudgetExhausted"})
    CHECK_MESSAGE(rules.find(std::string("alert: ") + name) != std::string::npos, name);

  json::value dashboard;
  REQUIRE_NOTHROW(dashboard = json::parse(read_text(dashboard_file())));
  REQUIRE(dashboard.is_object());
  CHECK(dashboard.as_object().contains("panels"));
  // Each panel has a unique id and a place; each non-row panel queries something.
  std::set<std::int64_t> ids;
  for (const auto& panel : dashboard.as_object().at("panels").as_array()) {
    const auto& o = panel.as_object();
    INFO(json::serialize(o.at("title")));
    CHECK(ids.insert(o.at("id").as_int64()).second);
    CHECK(o.contains("gridPos"));
    if (o.at("type").as_string() != "row") CHECK(!o.at("targets").as_array().empty());
  }
  std::vector<std::string> exprs;
  collect_exprs(dashboard, exprs);
  REQUIRE(exprs.size() >= 10);
  std::set<std::string> in_dashboard;
  for (const auto& e : exprs) {
    auto names = referenced_metrics(e, live);
    CHECK_MESSAGE(!names.empty(), "a dashboard query names no tally metric: " << e);
    in_dashboard.insert(names.begin(), names.end());
  }
  unknown.clear();
  for (const auto& m : in_dashboard)
    if (!allowed.contains(m)) unknown.insert(m);
  CHECK_MESSAGE(unknown.empty(),
                "the dashboard uses metrics tally does not export: " << joined(unknown));
}

TEST_CASE("the metric name check catches a name tally does not export") {
  std::set<std::string> families{"tally_requests_total", "tally_request_duration_seconds"};
  auto found = referenced_metrics(
      "histogram_quantile(0.9, rate(tally_request_duration_seconds_bucket[5m])) + "
      "rate(tally_requests_total[1m]) + tally_no_such_family",
      families);
  CHECK(found == std::set<std::string>{"tally_no_such_family", "tally_request_duration_seconds",
                                       "tally_requests_total"});
}

TEST_CASE("promtool accepts the alert rules, their unit tests and the Prometheus config") {
  REQUIRE_MESSAGE(on_path("promtool"), "promtool is missing: run scripts/install-deps.sh test");
  auto check = run_command({"promtool", "check", "rules", alerts_file().string()});
  INFO(check.output);
  CHECK(check.exit_code == 0);

  auto test = run_command(
      {"promtool", "test", "rules", (docker_dir() / "prometheus" / "alerts.test.yml").string()});
  INFO(test.output);
  CHECK(test.exit_code == 0);
  CHECK(test.output.find("SUCCESS") != std::string::npos);

  // prometheus.yml names the rules at their path inside the container; point it at ours.
  temp_dir dir;
  auto config = read_text(docker_dir() / "prometheus.yml");
  auto at = config.find("/etc/prometheus/alerts.yml");
  REQUIRE_MESSAGE(at != std::string::npos, "docker/prometheus.yml does not load the alert rules");
  config.replace(at, std::string_view("/etc/prometheus/alerts.yml").size(), alerts_file().string());
  auto cfg = run_command({"promtool", "check", "config", dir.write("prometheus.yml", config)});
  INFO(cfg.output);
  CHECK(cfg.exit_code == 0);
}

TEST_CASE("promtool test rules fails when an alert does not fire as its test expects") {
  // The unit tests above must be able to fail: the same tests against rules whose 5xx threshold
  // is ten times higher.
  REQUIRE_MESSAGE(on_path("promtool"), "promtool is missing: run scripts/install-deps.sh test");
  temp_dir dir;
  auto rules = read_text(alerts_file());
  auto at = rules.find("> 0.05");
  REQUIRE(at != std::string::npos);
  rules.replace(at, 6, "> 0.5");
  dir.write("alerts.yml", rules);
  auto tests = read_text(docker_dir() / "prometheus" / "alerts.test.yml");
  auto file = dir.write("alerts.test.yml", tests);
  auto r = run_command({"promtool", "test", "rules", file});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("TallyHigh5xxRatio") != std::string::npos);
}
