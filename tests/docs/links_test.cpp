// README.md and the documentation link only to files that exist inside the repository: a clone
// on its own must be able to follow every link.
#include <doctest/doctest.h>

#include <cctype>
#include <set>

#include "docs/docs_support.hpp"

using namespace tally::test;
using namespace tally::test::docs;

namespace {

// Markdown without fenced code blocks and inline code spans (their brackets are not links).
std::string prose_only(const std::string& markdown) {
  std::string out;
  std::istringstream in(markdown);
  std::string line;
  bool fenced = false;
  while (std::getline(in, line)) {
    if (line.starts_with("```")) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) out += std::regex_replace(line, std::regex("`[^`]*`"), "``") + "\n";
  }
  return out;
}

// Link targets: [text](target), [text](target "title") and [label]: target definitions.
std::vector<std::string> link_targets(const std::string& markdown) {
  std::vector<std::string> targets;
  auto text = prose_only(markdown);
  static const std::regex inline_link(R"(\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\))");
  static const std::regex definition(R"((?:^|\n)\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$))");
  for (const auto* re : {&inline_link, &definition})
    for (auto it = std::sregex_iterator(text.begin(), text.end(), *re);
         it != std::sregex_iterator(); ++it)
      targets.push_back((*it)[1]);
  return targets;
}

// GitHub's anchor for a heading: lowercase, punctuation other than '-' and '_' dropped, spaces
// turned into '-'.
std::string heading_anchor(std::string_view heading) {
  std::string out;
  for (unsigned char c : heading) {
    if (std::isalnum(c) || c == '-' || c == '_')
      out += static_cast<char>(std::tolower(c));
    else if (c == ' ')
      out += '-';
  }
  return out;
}

std::set<std::string> anchors_of(const fs::path& markdown) {
  std::set<std::string> out;
  std::istringstream in(read_text(markdown));
  std::string line;
  bool fenced = false;
  static const std::regex heading(R"(^#{1,6}\s+(.*?)\s*$)");
  while (std::getline(in, line)) {
    if (line.starts_with("```")) fenced = !fenced;
    std::smatch m;
    if (!fenced && std::regex_match(line, m, heading)) out.insert(heading_anchor(m[1].str()));
  }
  return out;
}

bool is_external(const std::string& target) {
  return target.starts_with("http://") || target.starts_with("https://") ||
         target.starts_with("mailto:");
}

// Problems with the links of one markdown file; empty when every local link resolves to a file
// or directory inside `root`.
std::vector<std::string> broken_links(const fs::path& file, const fs::path& root) {
  std::vector<std::string> problems;
  auto canonical_root = fs::weakly_canonical(root);
  for (auto target : link_targets(read_text(file))) {
    if (is_external(target)) continue;
    auto path_part = target.substr(0, target.find('#'));
    if (path_part.empty()) {  // an anchor on the same page
      if (!anchors_of(file).contains(target.substr(1)))
        problems.push_back(target + " (no such heading)");
      continue;
    }
    if (path_part.starts_with("/")) {
      problems.push_back(target + " (absolute path; links must be relative to the file)");
      continue;
    }
    auto resolved = fs::weakly_canonical(file.parent_path() / path_part);
    auto [root_end, _] = std::mismatch(canonical_root.begin(), canonical_root.end(),
                                       resolved.begin(), resolved.end());
    if (root_end != canonical_root.end()) {
      problems.push_back(target + " (outside the repository)");
    } else if (!fs::exists(resolved)) {
      problems.push_back(target + " (no such file)");
    } else if (auto hash = target.find('#');
               hash != std::string::npos && resolved.extension() == ".md" &&
               !anchors_of(resolved).contains(target.substr(hash + 1))) {
      problems.push_back(target + " (no such heading)");
    }
  }
  return problems;
}

std::vector<fs::path> documentation_files() {
  auto root = source_dir();
  std::vector<fs::path> files{root / "README.md", root / "docker" / "README.md",
                              root / "examples" / "README.md"};
  for (const auto& f : files_in(root / "docs", {".md"}))
    files.push_back(f);
  return files;
}

}  // namespace

TEST_CASE("README.md, docs/, docker/ and examples/ link only to files inside the repository") {
  auto files = documentation_files();
  REQUIRE(files.size() >= 8);
  for (const auto& file : files) {
    REQUIRE_MESSAGE(fs::exists(file), file.string());
    for (const auto& problem : broken_links(file, source_dir()))
      FAIL_CHECK(file.lexically_relative(source_dir()).string() << ": " << problem);
  }
}

TEST_CASE("README.md links to every page of docs/") {
  auto readme = read_text(source_dir() / "README.md");
  for (const auto& page : files_in(source_dir() / "docs", {".md"})) {
    auto link = "(docs/" + page.filename().string();
    CHECK_MESSAGE(readme.find(link) != std::string::npos, "README.md does not link " << link);
  }
}

TEST_CASE("the link checker finds a missing file and a link out of the repository") {
  temp_dir dir;
  fs::create_directories(dir.path() / "repo" / "docs");
  auto page = dir.path() / "repo" / "docs" / "page.md";
  std::ofstream(dir.path() / "repo" / "docs" / "there.md") << "# A title\n## Step 2: go (now)\n";
  std::ofstream(page) << "[ok](there.md#a-title) [ok](there.md#step-2-go-now) [no](there.md#b)\n"
                         "[gone](missing.md) [out](../../outside.md)\n"
                         "`[code](ignored.md)` [web](https://example.com/x)\n"
                         "```\n[fenced](ignored-too.md)\n```\n";
  std::ofstream(dir.path() / "outside.md") << "x\n";
  auto problems = broken_links(page, dir.path() / "repo");
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "there.md#b (no such heading)");
  CHECK(problems[1] == "missing.md (no such file)");
  CHECK(problems[2] == "../../outside.md (outside the repository)");
}
