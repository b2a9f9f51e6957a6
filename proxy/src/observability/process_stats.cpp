#include "observability/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace tally::proxy {
namespace {

double resident_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() noexcept {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  double count = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++count;
  }
  ::closedir(d);
  return count - 1;  // the descriptor opendir itself holds
}

double seconds_of(const timeval& tv) noexcept {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// Measured when the program's static objects are built, i.e. at start-up.
const double started_at =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

}  // namespace

process_sample read_process_sample() noexcept {
  process_sample s;
  s.resident_bytes = resident_bytes();
  s.open_fds = open_fds();
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0)
    s.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0)
    s.max_fds = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<double>(limit.rlim_cur);
  return s;
}

double process_start_time_seconds() noexcept {
  return started_at;
}

}  // namespace tally::proxy
