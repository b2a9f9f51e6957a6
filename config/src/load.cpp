// Entry points: read the file, hash its bytes, parse the YAML and hand it to the schema.
// This is the exception boundary: nothing thrown below escapes as an exception.
#include "tally/config/load.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "diagnostics.hpp"
#include "schema.hpp"
#include "tally/config/sha256.hpp"

namespace tally::config {
namespace {

// A config is a few kilobytes; refusing huge files bounds memory when pointed at the wrong one.
constexpr std::size_t largest_config_bytes = std::size_t{16} * 1024 * 1024;

// The file's bytes, or the strerror text of what went wrong.
struct file_contents {
  std::string bytes;
  std::string problem;
};

file_contents read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {{}, std::strerror(errno)};
  file_contents out;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.problem = std::strerror(errno);
      break;
    }
    if (n == 0) break;
    if (out.bytes.size() + static_cast<std::size_t>(n) > largest_config_bytes) {
      out.problem = "file is larger than 16MiB";
      break;
    }
    out.bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

void parse_and_validate(std::string_view yaml, config& out, detail::diagnostics& diag,
                        const load_options& options) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    diag.report(e.mark, "invalid YAML: " + e.msg);
    return;
  }
  detail::read_config(root, out, diag, options);
}

}  // namespace

load_options load_options_from_environment() {
  load_options options;
  if (const char* token = std::getenv("TALLY_ADMIN_TOKEN"); token && *token)
    options.admin_token_override = token;
  return options;
}

load_result load_config_string(std::string_view yaml, std::string source_name) {
  return load_config_string(yaml, std::move(source_name), load_options_from_environment());
}

load_result load_config_file(const std::string& path) {
  return load_config_file(path, load_options_from_environment());
}

load_result load_config_string(std::string_view yaml, std::string source_name,
                               const load_options& options) {
  detail::diagnostics diag(source_name);
  try {
    auto parsed = std::make_shared<config>();
    parsed->source_name = std::move(source_name);
    parsed->content_hash = sha256_hex(yaml);
    parse_and_validate(yaml, *parsed, diag, options);
    if (diag.empty()) return {std::move(parsed), {}, diag.take_warnings_in_file_order()};
  } catch (const std::exception& e) {
    diag.report_unplaced(std::string("internal error while reading the config: ") + e.what());
  } catch (...) {
    diag.report_unplaced("internal error while reading the config");
  }
  return {nullptr, diag.take_in_file_order(), diag.take_warnings_in_file_order()};
}

load_result load_config_file(const std::string& path, const load_options& options) {
  try {
    auto contents = read_whole_file(path);
    if (!contents.problem.empty()) {
      detail::diagnostics diag(path);
      diag.report_unplaced("cannot read: " + contents.problem);
      return {nullptr, diag.take_in_file_order()};
    }
    return load_config_string(contents.bytes, path, options);
  } catch (...) {
    // Only allocation can throw here; say so rather than let it escape.
    return {nullptr, {config_error{path, 0, 0, "cannot read: out of memory"}}};
  }
}

}  // namespace tally::config
