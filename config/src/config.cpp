#include "tally/config/config.hpp"

namespace tally::config {

const char* to_string(policy_kind k) noexcept {
  switch (k) {
    case policy_kind::round_robin:
      return "round_robin";
    case policy_kind::weighted_round_robin:
      return "weighted_round_robin";
    case policy_kind::least_connections:
      return "least_connections";
    case policy_kind::random_two:
      return "random_two";
    case policy_kind::consistent_hash:
      return "consistent_hash";
  }
  return "unknown";
}

const char* to_string(tls_version v) noexcept {
  switch (v) {
    case tls_version::v1_2:
      return "1.2";
    case tls_version::v1_3:
      return "1.3";
  }
  return "unknown";
}

const char* to_string(token_source s) noexcept {
  switch (s) {
    case token_source::none:
      return "none";
    case token_source::inline_value:
      return "admin.token";
    case token_source::file:
      return "admin.token_file";
    case token_source::environment:
      return "TALLY_ADMIN_TOKEN";
  }
  return "unknown";
}

}  // namespace tally::config
