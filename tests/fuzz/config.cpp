// Fuzzes the YAML config loader: any bytes given as a config file's text must produce either a
// config or a list of errors with a place — never a crash, a hang or an exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tally/config/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto result = tally::config::load_config_string(yaml, "fuzz.yaml");
  // load.hpp: a value exactly when there are no errors, and every error says something.
  if (result.ok() != result.errors.empty()) std::abort();
  for (const auto& e : result.errors) {
    if (e.message.empty() || e.line < 0 || e.column < 0) std::abort();
    (void)e.to_string();
  }
  if (result.ok()) {
    // A config that loaded loads again, identically hashed, from the same text.
    auto again = tally::config::load_config_string(yaml, "fuzz.yaml");
    if (!again.ok() || again.value->content_hash != result.value->content_hash) std::abort();
  }
  return 0;
}
