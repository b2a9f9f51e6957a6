// Lowercase hex SHA-256 (OpenSSL), shared by the config's content hash and the checkpoint's
// checksum (cluster/ links tally_config). One definition, so both name a digest the same way.
#pragma once

#include <string>
#include <string_view>

namespace tally::config {

// 64 lowercase hex digits; empty if OpenSSL fails, which never equals a real digest.
std::string sha256_hex(std::string_view bytes);

}  // namespace tally::config
