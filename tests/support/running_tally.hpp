// A `tally serve` child process on a config written to a temporary directory, with the ports the
// kernel picked read from its "listening on" line. For tests of the binary as operators run it.
#pragma once

#include <cstdint>
#include <regex>
#include <string>
#include <utility>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace tally::test {

// tally logs "listening on 127.0.0.1:PORT (admin 127.0.0.1:PORT, ...)": {proxy, admin}, or
// {0, 0} when `log` has no such line.
inline std::pair<std::uint16_t, std::uint16_t> ports_from(const std::string& log) {
  static const std::regex re(R"(listening on [0-9.]+:([0-9]+) \(admin [0-9.]+:([0-9]+))");
  std::smatch m;
  if (!std::regex_search(log, m, re)) return {0, 0};
  return {static_cast<std::uint16_t>(std::stoi(m[1])), static_cast<std::uint16_t>(std::stoi(m[2]))};
}

class running_tally {
 public:
  explicit running_tally(const std::string& config_text)
      : config_(dir_.write("tally.yaml", config_text)),
        process_({TALLY_BINARY, "serve", "-c", config_}) {
    if (!process_.wait_for_output("listening on")) return;
    std::tie(proxy_port_, admin_port_) = ports_from(process_.output());
  }
  bool started() const { return admin_port_ != 0; }
  std::uint16_t admin_port() const { return admin_port_; }
  std::uint16_t proxy_port() const { return proxy_port_; }
  std::string output() const { return process_.output(); }
  child_process& process() { return process_; }
  temp_dir& dir() { return dir_; }
  // Writes a new config over the one tally was started with (then send SIGHUP).
  void rewrite_config(const std::string& config_text) { dir_.write("tally.yaml", config_text); }

 private:
  temp_dir dir_;
  std::string config_;
  child_process process_;
  std::uint16_t proxy_port_ = 0;
  std::uint16_t admin_port_ = 0;
};

}  // namespace tally::test
