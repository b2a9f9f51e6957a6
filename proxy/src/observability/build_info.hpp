// What this binary is: printed by `tally --version`, exported as tally_build_info and in /status.
#pragma once

#include <string>

namespace tally::proxy {

struct build_info {
  std::string version;   // the project version (CMake's PROJECT_VERSION)
  std::string commit;    // `git describe` of the source at configure time, or "unknown"
  std::string compiler;  // e.g. "GCC 12.2.0"
  std::string boost;     // e.g. "1.81.0"
  std::string openssl;   // the library loaded at run time, e.g. "OpenSSL 3.0.15 3 Sep 2024"
};

const build_info& this_build();

}  // namespace tally::proxy
