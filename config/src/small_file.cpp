#include "small_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tally::config::detail {

std::optional<std::string> read_small_file(const std::string& path, std::size_t limit,
                                           const char* too_large, std::string& problem) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problem = std::strerror(errno);
    return std::nullopt;
  }
  std::string bytes;
  char buffer[16 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      problem = std::strerror(errno);
      break;
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
    if (bytes.size() > limit) {
      problem = too_large;
      break;
    }
  }
  ::close(fd);
  if (!problem.empty()) return std::nullopt;
  return bytes;
}

}  // namespace tally::config::detail
