// `tally demo`: three built-in backends and a proxy in front of them, for a first look.
#pragma once

#include <string_view>

namespace tally::proxy {

// The embedded config `tally demo` runs (SPEC: listen 127.0.0.1:8080, admin 127.0.0.1:9901).
extern const std::string_view demo_config_yaml;

// Runs the demo until SIGINT/SIGTERM; returns the process exit code.
int run_demo();

}  // namespace tally::proxy
