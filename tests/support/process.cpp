#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

extern char** environ;

namespace tally::test {

namespace {

[[noreturn]] void throw_errno(int error, const char* what) {
  throw std::system_error(error, std::generic_category(), what);
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A descriptor that becomes readable when the process exits (Linux >= 5.3), or -1.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

child_process::child_process(std::vector<std::string> argv) {
  if (argv.empty()) throw std::invalid_argument("child_process: empty argv");
  int fds[2];
  // O_CLOEXEC: other children started concurrently must not inherit this pipe, or our reader
  // would never see end-of-file.
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigset_t none;
  sigfillset(&defaults);
  sigemptyset(&none);
  // The test runner may ignore or block signals (SIGPIPE, SIGTERM); the child must not inherit
  // that.
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(arg.data());
  args.push_back(nullptr);
  const int error = ::posix_spawnp(&pid_, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(fds[1]);
  if (error != 0) {
    ::close(fds[0]);
    throw_errno(error, ("posix_spawnp " + argv[0]).c_str());
  }
  pipe_fd_ = fds[0];
  reader_ = std::thread([this] { read_output(); });
}

child_process::~child_process() {
  if (!exit_code_ && pid_ > 0) {
    // The whole group: a child that forked helpers must not leave them holding our pipe.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    try_reap(true);
  }
  stop_reading_ = true;
  if (reader_.joinable()) reader_.join();
  if (pipe_fd_ >= 0) ::close(pipe_fd_);
}

void child_process::read_output() {
  char piece[4096];
  while (!stop_reading_) {
    // Poll with a short timeout so the destructor can stop us even if a grandchild still
    // holds the pipe's write end open.
    pollfd readable{pipe_fd_, POLLIN, 0};
    const int ready = ::poll(&readable, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    const ssize_t n = ready < 0 ? -1 : ::read(pipe_fd_, piece, sizeof piece);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      output_ended_ = true;
      changed_.notify_all();
      return;
    }
    output_.append(piece, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  std::lock_guard lock(mutex_);
  output_ended_ = true;
  changed_.notify_all();
}

std::string child_process::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

bool child_process::wait_for_output(std::string_view needle,
                                    std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout,
                    [&] { return output_.find(needle) != std::string::npos || output_ended_; });
  return output_.find(needle) != std::string::npos;
}

bool child_process::wait_for_output_end(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return output_ended_; });
}

void child_process::send_signal(int signal) {
  if (!exit_code_ && pid_ > 0) ::kill(pid_, signal);
}

bool child_process::try_reap(bool block) {
  if (exit_code_) return true;
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_) {
    exit_code_ = decode_status(status);
    return true;
  }
  if (reaped < 0) exit_code_ = -1;  // not our child any more (ECHILD): nothing to wait for
  return reaped < 0;
}

bool child_process::running() {
  return !try_reap(false);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int pidfd = open_pidfd(pid_);
  while (!try_reap(false)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    if (pidfd >= 0) {
      pollfd exited{pidfd, POLLIN, 0};
      ::poll(&exited, 1, static_cast<int>(left.count()));
    } else {
      // No pidfd on this kernel: poll the exit status at a short interval instead.
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return exit_code_;
}

command_result run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  child_process child(std::move(argv));
  command_result result;
  if (auto code = child.wait_exit(timeout)) result.exit_code = *code;
  if (result.exit_code < 0) {
    child.send_signal(SIGKILL);
    child.wait_exit(5s);
  } else {
    // The pipe may still hold the last bytes the child wrote before exiting.
    child.wait_for_output_end(2s);
  }
  result.output = child.output();
  return result;
}

}  // namespace tally::test
