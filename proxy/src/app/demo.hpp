// `tally demo`: three built-in backends and a proxy in front of them, for a first look.
#pragma once

#include <string_view>

namespace tally::proxy {

// Runs the demo until SIGINT/SIGTERM; returns the process exit code.
int run_demo();

}  // namespace tally::proxy
