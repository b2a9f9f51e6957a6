// Runs programs (the tally binary, mostly) as child processes for end-to-end tests.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tally::test {

using namespace std::chrono_literals;

// A child started from an argv vector (no shell; PATH is searched for argv[0]) with stdout and
// stderr both captured through one pipe. The child gets its own process group and default
// signal dispositions. Destroying a running child SIGKILLs its group and reaps it.
class child_process {
 public:
  // Throws std::system_error when the program cannot be started.
  explicit child_process(std::vector<std::string> argv);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }

  // Everything the child wrote so far (stdout and stderr interleaved as written).
  std::string output() const;

  // True once `needle` appears in the output; false on timeout or when the output ends
  // (child and its descendants closed the pipe) without it.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout = 10s) const;

  // True once the output has ended (the child and everything it started closed the pipe).
  bool wait_for_output_end(std::chrono::milliseconds timeout = 10s) const;

  // Signals the child itself (not its group): SIGTERM, SIGHUP, SIGINT...
  void send_signal(int signal);

  // The exit code once the child has exited: its exit status, or 128 + signal number when a
  // signal killed it (as a shell reports it). nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 10s);

  bool running();

 private:
  bool try_reap(bool block);
  void read_output();

  pid_t pid_ = -1;
  int pipe_fd_ = -1;
  std::optional<int> exit_code_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string output_;
  bool output_ended_ = false;

  std::atomic<bool> stop_reading_{false};
  std::thread reader_;
};

struct command_result {
  int exit_code = -1;  // -1 when the command did not finish in time (it was then killed)
  std::string output;  // stdout and stderr
};

// Runs argv to completion (bounded by `timeout`) and returns its exit code and output.
command_result run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout = 30s);

}  // namespace tally::test
