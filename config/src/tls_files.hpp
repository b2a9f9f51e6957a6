// Reading and checking the TLS files a config names (certificate, private key, CA bundle) with
// libcrypto, at load time: a file that would fail the TLS handshake setup fails `tally check`.
// The paths given here are already resolved (relative to the config file's directory).
#pragma once

#include <optional>
#include <string>

#include "tally/config/config.hpp"

namespace tally::config::detail {

// What is wrong with a certificate and key pair, and which of the two files it concerns (so the
// error points at the `cert` or the `key` value).
struct certificate_problem {
  enum class file { cert, key };
  file in = file::cert;
  std::string message;  // complete: names the file and says what to do
};

// Reads the PEM certificate file (the leaf, then its chain) and the PEM private key file, checks
// that the key matches the leaf, and fills `out`'s cert_pem, key_pem, names and not_after.
// cert_file and key_file are left as they are (the paths as configured).
std::optional<certificate_problem> load_certificate_files(const std::string& cert_path,
                                                          const std::string& key_path,
                                                          tls_certificate_config& out);

// Reads a PEM bundle of trusted CA certificates into `pem`; returns the problem otherwise.
std::optional<std::string> load_ca_file(const std::string& path, std::string& pem);

// "2027-01-31": the UTC date of `epoch_seconds`, for expiry messages.
std::string utc_date(std::int64_t epoch_seconds);

}  // namespace tally::config::detail
