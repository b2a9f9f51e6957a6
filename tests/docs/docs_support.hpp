// Helpers for the tests that keep docs/, examples/, docker/ and packaging/ honest: reading files
// of the checkout, running `tally check`, and scraping a real tally's /metrics.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/running_tally.hpp"
#include "support/temp_dir.hpp"

namespace tally::test::docs {

namespace fs = std::filesystem;

inline fs::path source_dir() {
  return fs::path(TALLY_SOURCE_DIR);
}

// The whole file, or "" when it cannot be read (callers REQUIRE what they need to exist).
inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Files directly in `dir` whose name ends with one of `suffixes`, sorted.
inline std::vector<fs::path> files_in(const fs::path& dir,
                                      std::initializer_list<std::string_view> suffixes) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    auto name = entry.path().filename().string();
    for (auto suffix : suffixes)
      if (name.ends_with(suffix)) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// True when `tool` is an executable in one of PATH's directories.
inline bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::error_code ec;
    auto candidate = fs::path(dir.empty() ? "." : dir) / tool;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

// `tally check -c path`, bounded; exit code and everything printed.
inline command_result tally_check(const std::string& path) {
  return run_command({TALLY_BINARY, "check", "-c", path}, 20s);
}

// The first cell of each markdown table row that is a single code span (`x`), in file order,
// from the start of `markdown` up to (not including) the first line starting with `stop_heading`.
inline std::vector<std::string> table_keys(const std::string& markdown,
                                           std::string_view stop_heading) {
  std::vector<std::string> keys;
  std::istringstream in(markdown);
  std::string line;
  static const std::regex row(R"(^\|\s*`([^`]+)`\s*\|)");
  while (std::getline(in, line)) {
    if (!stop_heading.empty() && line.starts_with(stop_heading)) break;
    std::smatch m;
    if (std::regex_search(line, m, row)) keys.push_back(m[1]);
  }
  return keys;
}

// Same, for the part of `markdown` from the first line starting with `start_heading` on.
inline std::vector<std::string> table_keys_after(const std::string& markdown,
                                                 std::string_view start_heading) {
  auto at = markdown.find("\n" + std::string(start_heading));
  if (at == std::string::npos) return {};
  return table_keys(markdown.substr(at + 1), "");
}

// A config that starts anywhere: ports from the kernel, one backend that nothing needs to
// answer, a peer so cluster families have a series, no access log noise.
inline std::string scrape_config() {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0, token: docs-test-token }\n"
         "workers: 1\n"
         "access_log: { enabled: false }\n"
         "pools:\n"
         "  web:\n"
         "    backends:\n"
         "      - { address: 127.0.0.1:9 }\n"
         "routes:\n"
         "  - { path_prefix: /, pool: web }\n"
         "cluster:\n"
         "  node_id: docs-1\n"
         "  peers: [ { id: docs-2, address: 127.0.0.1:9 } ]\n";
}

// Metric family names (from the "# TYPE" lines) of a Prometheus text exposition.
inline std::set<std::string> exposition_families(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("# TYPE ")) continue;
    std::istringstream words(line.substr(7));
    std::string name;
    words >> name;
    names.insert(name);
  }
  return names;
}

// The families a real tally exports today, scraped from GET /metrics. Empty when it could not
// start or answer (callers REQUIRE non-empty).
inline std::set<std::string> live_metric_families() {
  running_tally tally(scrape_config());
  if (!tally.started()) return {};
  auto r = http_get(tally.admin_port(), "/metrics");
  if (r.status != 200) return {};
  return exposition_families(r.body);
}

// Metric names a PromQL text or a rules/dashboard file mentions: tally_* and process_* words.
// Histogram series suffixes (_bucket, _sum, _count) are mapped back to their family when that
// family is in `families`.
inline std::set<std::string> referenced_metrics(const std::string& text,
                                                const std::set<std::string>& families) {
  std::set<std::string> out;
  static const std::regex word(R"(\b((?:tally|process)_[a-z0-9_]+)\b)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), word); it != std::sregex_iterator();
       ++it) {
    std::string name = (*it)[1];
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!name.ends_with(suffix)) continue;
      auto base = name.substr(0, name.size() - suffix.size());
      if (families.contains(base)) name = base;
    }
    out.insert(name);
  }
  return out;
}

inline std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

}  // namespace tally::test::docs
