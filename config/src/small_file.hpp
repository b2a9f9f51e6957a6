// Reading the small files a config names (admin.token_file, TLS certificates and keys) whole,
// with a size cap: a path that points at a log or a device must not be read into memory.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace tally::config::detail {

// The file's bytes, or nullopt with `problem` set: the strerror text, or `too_large` when the
// file holds more than `limit` bytes.
std::optional<std::string> read_small_file(const std::string& path, std::size_t limit,
                                           const char* too_large, std::string& problem);

}  // namespace tally::config::detail
