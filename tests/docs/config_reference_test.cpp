// docs/configuration.md documents exactly the keys `tally check` accepts: no more, no fewer.
//
// The accepted keys are not read from the schema's source (which may be structured any way) but
// asked of the binary: a map given an unknown key answers
//   unknown key "zz_probe" in PATH; expected one of: a, b, c
// so the test walks the schema from the top level, trying each accepted key as a map, as a list
// of maps and as a map of named maps. Paths are written the way the document writes them:
// `pools.<name>.backends[].address`.
#include <doctest/doctest.h>

#include <set>

#include "docs/docs_support.hpp"

using namespace tally::test;
using namespace tally::test::docs;

namespace {

constexpr std::string_view probe_key = "zz_probe";
constexpr std::string_view probe_name = "zz_name";

struct step {
  enum kind_t { key, item, name } kind;
  std::string text;  // the key for kind key
};
using schema_path = std::vector<step>;

// `pools.<name>.backends[].address`
std::string documented_form(const schema_path& path) {
  std::string out;
  for (const auto& s : path) {
    if (s.kind == step::key) out += (out.empty() ? "" : ".") + s.text;
    if (s.kind == step::item) out += "[]";
    if (s.kind == step::name) out += ".<name>";
  }
  return out;
}

// How tally's messages name the map at `path` with the values the probe document uses:
// `pools.zz_name.backends[0]`, or "top level".
std::string message_form(const schema_path& path) {
  std::string out;
  for (const auto& s : path) {
    if (s.kind == step::key) out += (out.empty() ? "" : ".") + s.text;
    if (s.kind == step::item) out += "[0]";
    if (s.kind == step::name) out += "." + std::string(probe_name);
  }
  return out.empty() ? "top level" : out;
}

// A one-line flow-style document with `leaf` at `path`.
std::string document_with(const schema_path& path, std::string leaf) {
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    if (it->kind == step::key) leaf = "{ " + it->text + ": " + leaf + " }";
    if (it->kind == step::item) leaf = "[ " + leaf + " ]";
    if (it->kind == step::name) leaf = "{ " + std::string(probe_name) + ": " + leaf + " }";
  }
  return leaf + "\n";
}

std::string regex_escape(const std::string& text) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(text, special, R"(\$&)");
}

class schema_walker {
 public:
  // Every accepted key path, in documented form.
  std::set<std::string> walk() {
    visit({});
    return found_;
  }
  const std::string& last_output() const { return last_output_; }

 private:
  // The keys of the map at `path`, or nothing when `path` is not a map of known keys.
  std::optional<std::vector<std::string>> keys_of(const schema_path& path) {
    auto file =
        dir_.write("probe.yaml", document_with(path, "{ " + std::string(probe_key) + ": 1 }"));
    auto result = tally_check(file);
    last_output_ = result.output;
    std::regex expected("unknown key \"" + std::string(probe_key) + "\" in " +
                        regex_escape(message_form(path)) + "; expected one of: ([^\\n]*)");
    std::smatch m;
    if (!std::regex_search(result.output, m, expected)) return std::nullopt;
    std::vector<std::string> keys;
    std::string list = m[1];
    static const std::regex word(R"(([A-Za-z0-9_]+)\s*(,|$))");
    for (auto it = std::sregex_iterator(list.begin(), list.end(), word);
         it != std::sregex_iterator(); ++it)
      keys.push_back((*it)[1]);
    return keys;
  }

  void visit(const schema_path& path) {
    if (path.size() > 8) return;  // nothing in the schema is this deep; stop a runaway walk
    auto keys = keys_of(path);
    if (!keys) return;
    for (const auto& key : *keys) {
      schema_path child = path;
      child.push_back({step::key, key});
      found_.insert(documented_form(child));
      // A section (map), a list of maps, or a map of named maps; a plain value is none of them.
      if (keys_of(child)) {
        visit(child);
        continue;
      }
      for (auto kind : {step::item, step::name}) {
        schema_path inner = child;
        inner.push_back({kind, ""});
        if (keys_of(inner)) {
          visit(inner);
          break;
        }
      }
    }
  }

  temp_dir dir_;
  std::set<std::string> found_;
  std::string last_output_;
};

std::set<std::string> documented_keys() {
  auto text = read_text(source_dir() / "docs" / "configuration.md");
  auto keys = table_keys(text, "## Planned");
  return {keys.begin(), keys.end()};
}

}  // namespace

TEST_CASE("docs/configuration.md documents every key the schema accepts, and only those") {
  auto documented = documented_keys();
  REQUIRE_MESSAGE(documented.size() > 20,
                  "docs/configuration.md has no key tables before its \"## Planned\" heading");
  schema_walker walker;
  auto accepted = walker.walk();
  // If tally's wording changed, the walk would find nothing and prove nothing: fail loudly.
  INFO("last tally check output: " << walker.last_output());
  REQUIRE(accepted.size() > 20);
  CHECK(accepted.contains("listen"));
  CHECK(accepted.contains("pools.<name>.backends[].address"));
  CHECK(accepted.contains("routes[].pool"));
  CHECK(accepted.contains("cluster.peers[].id"));

  std::set<std::string> undocumented, not_accepted;
  for (const auto& k : accepted)
    if (!documented.contains(k)) undocumented.insert(k);
  for (const auto& k : documented)
    if (!accepted.contains(k)) not_accepted.insert(k);
  INFO("accepted by tally check: " << joined(accepted));
  CHECK_MESSAGE(undocumented.empty(),
                "accepted but not documented in docs/configuration.md: " << joined(undocumented));
  CHECK_MESSAGE(not_accepted.empty(),
                "documented in docs/configuration.md (above \"## Planned\") but rejected by "
                "tally check: "
                    << joined(not_accepted));
}

TEST_CASE("docs/configuration.md lists each key once") {
  auto text = read_text(source_dir() / "docs" / "configuration.md");
  auto keys = table_keys(text, "## Planned");
  std::set<std::string> seen, repeated;
  for (const auto& k : keys)
    if (!seen.insert(k).second) repeated.insert(k);
  CHECK_MESSAGE(repeated.empty(), "listed twice: " << joined(repeated));
}

TEST_CASE("keys docs/configuration.md calls planned are still rejected by tally check") {
  // When a planned key lands in the schema, its row moves up into the reference tables.
  auto text = read_text(source_dir() / "docs" / "configuration.md");
  // No "## Planned" section at all: every key of the contract has landed, nothing to check. A
  // heading left without rows is stale, or its table no longer parses.
  if (text.find("\n## Planned") == std::string::npos) return;
  auto planned = table_keys_after(text, "## Planned");
  REQUIRE_MESSAGE(!planned.empty(),
                  "docs/configuration.md has a \"## Planned\" heading but no "
                  "key table under it; remove the heading or list the keys");
  auto accepted = schema_walker().walk();
  REQUIRE(accepted.size() > 20);
  std::set<std::string> landed;
  for (const auto& k : planned)
    if (accepted.contains(k)) landed.insert(k);
  CHECK_MESSAGE(landed.empty(),
                "accepted by tally check now, move them out of \"Planned\": " << joined(landed));
}
