#include "observability/build_info.hpp"

#include <openssl/crypto.h>

#include <boost/version.hpp>

#ifndef TALLY_COMMIT
#define TALLY_COMMIT "unknown"
#endif

namespace tally::proxy {
namespace {

std::string compiler_text() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " __VERSION__;
#else
  return "unknown";
#endif
}

std::string boost_text() {
  return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
         "." + std::to_string(BOOST_VERSION % 100);
}

}  // namespace

const build_info& this_build() {
  static const build_info info{TALLY_VERSION, TALLY_COMMIT, compiler_text(), boost_text(),
                               OpenSSL_version(OPENSSL_VERSION)};
  return info;
}

}  // namespace tally::proxy
