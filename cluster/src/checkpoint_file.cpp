#include "tally/cluster/checkpoint_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <utility>

#include "tally/cluster/checkpoint_codec.hpp"

namespace tally::cluster {
namespace fs = std::filesystem;

namespace {

std::string hint_for(int error_number) {
  switch (error_number) {
    case ENOENT:
      return "the directory does not exist: create it or change checkpoint.path";
    case ENOTDIR:
      return "a component of the path is not a directory: fix checkpoint.path";
    case EACCES:
    case EPERM:
      return "tally may not write there: make the directory writable for tally's user or change "
             "checkpoint.path";
    case EROFS:
      return "the filesystem is read-only: point checkpoint.path at a writable volume";
    case ENOSPC:
    case EDQUOT:
      return "the disk is full: free space on that filesystem";
    case EFBIG:
      return "the file size limit was reached: raise it (ulimit -f) or free space";
    case EISDIR:
      return "a directory is in the way: remove it";
    case EIO:
      return "the disk reported an I/O error: check it";
    case EEXIST:
    case ELOOP:
      return "something else created the temporary file's name first: check who else can "
             "write to that directory, and make it writable for tally's user only";
    default:
      return "check checkpoint.path and the disk";
  }
}

checkpoint_io_error io_error(const fs::path& path, std::string_view step, const fs::path& subject,
                             int error_number) {
  std::string message = "cannot write checkpoint " + path.string() + ": " + std::string(step) +
                        " " + subject.string() + " failed: " + std::strerror(error_number) + " (" +
                        hint_for(error_number) + ")";
  return {std::move(message), error_number};
}

fs::path directory_of(const fs::path& path) {
  auto dir = path.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// Closes on scope exit so every early return releases the descriptor.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

bool write_all(int fd, std::string_view bytes, int& error_number) {
  while (!bytes.empty()) {
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error_number = errno;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string random_nonce() {
  std::random_device random;
  const std::uint64_t value = (std::uint64_t{random()} << 32) ^ random();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

fs::path checkpoint_temp_path(const fs::path& path, pid_t pid, std::string_view nonce) {
  auto temp = path;
  temp += ".tmp-" + std::to_string(pid) + "-" + std::string(nonce);
  return temp;
}

std::vector<fs::path> checkpoint_temp_files(const fs::path& path, pid_t pid) {
  const auto prefix = path.filename().string() + ".tmp-" + std::to_string(pid) + "-";
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(directory_of(path), ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0)
      out.push_back(it->path());
  }
  return out;
}

std::optional<checkpoint_io_error> write_checkpoint_file(const fs::path& path,
                                                         std::string_view bytes) noexcept {
  try {
    return write_checkpoint_file(path, bytes, random_nonce());
  } catch (...) {
    // std::random_device throws when the kernel has no randomness to give.
    return checkpoint_io_error{
        "cannot write checkpoint " + path.string() + ": no random source for the temp file name",
        EIO};
  }
}

std::optional<checkpoint_io_error> write_checkpoint_file(const fs::path& path,
                                                         std::string_view bytes,
                                                         std::string_view nonce) noexcept {
  try {
    const auto temp = checkpoint_temp_path(path, ::getpid(), nonce);
    fd_guard file{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (file.fd < 0) return io_error(path, "creating", temp, errno);

    auto abandon = [&](std::string_view step, int error_number) {
      if (file.fd >= 0) ::close(file.release());
      ::unlink(temp.c_str());  // the last good file stays; the half-written one goes
      return io_error(path, step, temp, error_number);
    };
    int error_number = 0;
    if (!write_all(file.fd, bytes, error_number)) return abandon("writing", error_number);
    // Without this fsync a power cut after the rename can leave an empty or partial file.
    if (::fsync(file.fd) != 0) return abandon("syncing", errno);
    if (::close(file.release()) != 0) return abandon("closing", errno);
    if (::rename(temp.c_str(), path.c_str()) != 0) return abandon("renaming into place", errno);

    // The rename lives in the directory; sync it so the new name survives a power cut too.
    const auto dir = directory_of(path);
    fd_guard dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir_fd.fd < 0) return io_error(path, "opening directory", dir, errno);
    if (::fsync(dir_fd.fd) != 0) return io_error(path, "syncing directory", dir, errno);
    return std::nullopt;
  } catch (...) {
    return checkpoint_io_error{"cannot write checkpoint " + path.string() + ": out of memory",
                               ENOMEM};
  }
}

checkpoint_read_result read_checkpoint_file(const fs::path& path) noexcept {
  try {
    fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) {
      if (errno == ENOENT) return {checkpoint_read_status::missing, {}, {}};
      return {checkpoint_read_status::error,
              {},
              "cannot read checkpoint " + path.string() + ": " + std::strerror(errno)};
    }
    checkpoint_read_result result{checkpoint_read_status::ok, {}, {}};
    char buffer[64 * 1024];
    while (result.bytes.size() <= max_checkpoint_bytes) {
      const auto n = ::read(file.fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return {checkpoint_read_status::error,
                {},
                "cannot read checkpoint " + path.string() + ": " + std::strerror(errno)};
      if (n == 0) break;
      result.bytes.append(buffer, static_cast<std::size_t>(n));
    }
    return result;
  } catch (...) {
    return {checkpoint_read_status::error,
            {},
            "cannot read checkpoint " + path.string() + ": out of memory"};
  }
}

std::string checkpoint_utc_stamp(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::optional<fs::path> move_checkpoint_aside(const fs::path& path,
                                              std::chrono::system_clock::time_point now,
                                              std::string& error) noexcept {
  try {
    const auto base = path.string() + ".corrupt-" + checkpoint_utc_stamp(now);
    fs::path target = base;
    struct stat info {};
    for (int n = 1; ::lstat(target.c_str(), &info) == 0; ++n)
      target = base + "-" + std::to_string(n);
    if (::rename(path.c_str(), target.c_str()) != 0) {
      error = "cannot move " + path.string() + " aside to " + target.string() + ": " +
              std::strerror(errno);
      return std::nullopt;
    }
    return target;
  } catch (...) {
    error = "cannot move " + path.string() + " aside: out of memory";
    return std::nullopt;
  }
}

std::size_t remove_stale_checkpoint_temps(const fs::path& path) noexcept {
  try {
    const auto prefix = path.filename().string() + ".tmp-";
    std::error_code ec;
    std::size_t removed = 0;
    for (fs::directory_iterator it(directory_of(path), ec), end; !ec && it != end;
         it.increment(ec)) {
      const auto name = it->path().filename().string();
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      auto digits = std::string_view(name).substr(prefix.size());
      if (const auto dash = digits.find('-'); dash != std::string_view::npos) {
        const auto nonce = digits.substr(dash + 1);
        if (nonce.size() != 16 ||
            nonce.find_first_not_of("0123456789abcdef") != std::string_view::npos)
          continue;
        digits = digits.substr(0, dash);
      }
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos ||
          digits.size() > 9)
        continue;
      const auto pid = static_cast<pid_t>(std::stol(std::string(digits)));
      // Alive (or not ours to signal): it may be writing right now.
      if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno == EPERM) continue;
      std::error_code type_ec;
      if (it->symlink_status(type_ec).type() != fs::file_type::regular) continue;
      if (::unlink(it->path().c_str()) == 0) ++removed;
    }
    return removed;
  } catch (...) {
    return 0;
  }
}

}  // namespace tally::cluster
