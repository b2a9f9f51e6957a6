// Certificates made at test time with the openssl command, in a temporary directory that also
// holds the config file (so relative cert paths resolve there), and the errors of loading it.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "config_test_support.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace tally::config::test {

class tls_dir {
 public:
  // NAME.pem and NAME-key.pem: a self-signed P-256 certificate for `subject_cn`, with the SAN
  // `san` ("DNS:a.example.com,DNS:*.b.example.com"; empty = none), valid for `days`.
  void make_certificate(const std::string& name, const std::string& subject_cn,
                        const std::string& san = "", int days = 365,
                        const std::string& key_type = "ec") const {
    std::vector<std::string> argv{"openssl", "req", "-x509", "-newkey", key_type};
    if (key_type == "ec") {
      argv.push_back("-pkeyopt");
      argv.push_back("ec_paramgen_curve:P-256");
    }
    std::vector<std::string> rest{"-nodes",
                                  "-days",
                                  std::to_string(days),
                                  "-subj",
                                  "/CN=" + subject_cn,
                                  "-keyout",
                                  path(name + "-key.pem"),
                                  "-out",
                                  path(name + ".pem")};
    argv.insert(argv.end(), rest.begin(), rest.end());
    if (!san.empty()) {
      argv.push_back("-addext");
      argv.push_back("subjectAltName=" + san);
    }
    run(argv);
  }

  // Runs a command (openssl) and fails the test when it does not succeed.
  void run(const std::vector<std::string>& argv) const {
    auto r = tally::test::run_command(argv);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }

  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    return dir_.write(name, text);
  }

  // Loads `yaml` as if it were the file t.yaml of this directory.
  load_result load(std::string_view yaml, const load_options& options = {}) const {
    return load_config_string(yaml, path("t.yaml"), options);
  }

  // "t.yaml:LINE:COL: message" for each error (or warning): the directory left out.
  std::vector<std::string> texts(const std::vector<config_error>& errors) const {
    std::vector<std::string> out;
    for (const auto& e : errors) {
      auto text = e.to_string();
      auto prefix = (dir_.path() / "").string();
      if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
      out.push_back(text);
    }
    return out;
  }

  // Every error (or warning), one a line, for INFO.
  std::string joined(const std::vector<config_error>& errors) const {
    std::string out;
    for (const auto& t : texts(errors))
      out += "\n  " + t;
    return out;
  }

  // The one error `yaml` produces; fails the test when there are none or several.
  std::string only_error(std::string_view yaml, const load_options& options = {}) const {
    auto r = load(yaml, options);
    auto all = texts(r.errors);
    INFO("errors:" << joined(r.errors));
    CHECK_FALSE(r.ok());
    CHECK(all.size() == 1);
    return all.empty() ? "(no error)" : all.front();
  }

 private:
  tally::test::temp_dir dir_;
};

inline std::int64_t seconds_from_now(std::chrono::seconds offset) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             (std::chrono::system_clock::now() + offset).time_since_epoch())
      .count();
}

}  // namespace tally::config::test
