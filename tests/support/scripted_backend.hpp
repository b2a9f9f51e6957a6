// A backend whose every connection runs a script written by the test, over a plain blocking
// socket: for the misbehaviours a real server does not offer on demand (closing a kept-alive
// connection, answering before reading the body, interim responses, resets). Each connection
// runs on its own thread; every read is bounded (SO_RCVTIMEO), so a script cannot hang a test.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tally::test {

// One accepted connection, as the script sees it.
class scripted_backend;

class raw_peer {
 public:
  raw_peer(scripted_backend& owner, int fd) : owner_(owner), fd_(fd) {}
  ~raw_peer() { close(); }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;
  // Bytes up to and including the blank line ending a message head; nullopt on close/timeout.
  std::optional<std::string> read_head();
  // Exactly `n` more bytes (those left over by read_head first); false on close/timeout.
  bool read_exact(std::size_t n, std::string* out = nullptr);
  // Reads and discards until the peer closes or the read times out; bytes discarded.
  std::size_t drain();
  bool write(std::string_view bytes);
  // Closes the socket (a reset when received bytes are left unread, as the kernel does).
  void close();
  // Closes with a TCP reset (SO_LINGER 0) instead of a FIN.
  void reset();
  // Half-closes the sending direction (FIN), keeping the socket open for reading.
  void shutdown_send();

 private:
  scripted_backend& owner_;
  int fd_;
  std::string pending_;
};

class scripted_backend {
 public:
  // `script(peer, n)` runs for the n-th accepted connection (0-based); the connection is closed
  // when it returns (unless the script reset it).
  using script = std::function<void(raw_peer&, std::size_t)>;
  explicit scripted_backend(script s);
  ~scripted_backend();
  scripted_backend(const scripted_backend&) = delete;
  scripted_backend& operator=(const scripted_backend&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::size_t connections() const { return accepted_.load(); }

  // Request heads the scripts recorded with record(), in order.
  void record(std::string head);
  std::vector<std::string> recorded() const;

 private:
  friend class raw_peer;
  void accept_loop();
  void close_fd(int fd);

  script script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> fds_;
  std::vector<std::string> recorded_;
};

// Counts the requests whose head starts with `method` + " ".
std::size_t count_method(const std::vector<std::string>& heads, std::string_view method);

}  // namespace tally::test
