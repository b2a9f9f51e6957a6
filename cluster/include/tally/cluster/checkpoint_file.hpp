// The on-disk side of checkpoints: crash-safe replacement of the file, bounded reads, and setting
// a bad file aside. Plain POSIX calls so every step's errno reaches the message.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tally::cluster {

struct checkpoint_io_error {
  std::string message;  // path, failed step, strerror and what to do about it
  int error_number = 0;
};

// `<path>.tmp-<pid>-<nonce>`: in the same directory, so the rename below stays on one
// filesystem. The nonce is 16 random hex digits per write: someone who can write to that
// directory cannot guess the name and plant a symlink or a file there in advance.
std::filesystem::path checkpoint_temp_path(const std::filesystem::path& path, pid_t pid,
                                           std::string_view nonce);
// The temp files of process `pid` currently next to `path` (any nonce).
std::vector<std::filesystem::path> checkpoint_temp_files(const std::filesystem::path& path,
                                                         pid_t pid);

// Replaces `path` with `bytes` so that a crash at any instant leaves either the old file or the
// new one, never a mix: write the temp file, fsync it, rename it over `path`, fsync the directory.
// The temp file is created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600, so whatever already
// sits at its name (a planted symlink, another file) makes the write fail instead of being
// followed or overwritten. On failure the temp file is removed and `path` is untouched (unless
// only the final directory fsync failed: then the new file is in place but may not survive a
// power cut).
std::optional<checkpoint_io_error> write_checkpoint_file(const std::filesystem::path& path,
                                                         std::string_view bytes) noexcept;
// The same with a given nonce instead of a random one, so tests can occupy the temp name.
std::optional<checkpoint_io_error> write_checkpoint_file(const std::filesystem::path& path,
                                                         std::string_view bytes,
                                                         std::string_view nonce) noexcept;

enum class checkpoint_read_status { ok, missing, error };

struct checkpoint_read_result {
  checkpoint_read_status status = checkpoint_read_status::error;
  std::string bytes;  // at most max_checkpoint_bytes + 1, so an oversized file fails to decode
  std::string error;
};

checkpoint_read_result read_checkpoint_file(const std::filesystem::path& path) noexcept;

// "20261126T051500Z"
std::string checkpoint_utc_stamp(std::chrono::system_clock::time_point when);

// Renames `path` to `<path>.corrupt-<UTC stamp>` (adding -1, -2… if that exists) so the next
// start does not trip over it and an operator can still inspect it. Returns the new path.
std::optional<std::filesystem::path> move_checkpoint_aside(
    const std::filesystem::path& path, std::chrono::system_clock::time_point now,
    std::string& error) noexcept;

// A process killed mid-write leaves `<path>.tmp-<pid>-<nonce>` (or, from older versions,
// `<path>.tmp-<pid>`) behind; removes those whose process is
// gone. Returns how many were removed.
std::size_t remove_stale_checkpoint_temps(const std::filesystem::path& path) noexcept;

}  // namespace tally::cluster
