#include "support/scripted_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace tally::test {

namespace {

constexpr int read_timeout_seconds = 5;

}  // namespace

std::optional<std::string> raw_peer::read_head() {
  for (;;) {
    if (auto end = pending_.find("\r\n\r\n"); end != std::string::npos) {
      std::string head = pending_.substr(0, end + 4);
      pending_.erase(0, end + 4);
      return head;
    }
    char buf[16 * 1024];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

bool raw_peer::read_exact(std::size_t n, std::string* out) {
  while (pending_.size() < n) {
    char buf[64 * 1024];
    const auto got = ::recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(got));
  }
  if (out) *out = pending_.substr(0, n);
  pending_.erase(0, n);
  return true;
}

std::size_t raw_peer::drain() {
  std::size_t total = pending_.size();
  pending_.clear();
  char buf[64 * 1024];
  for (;;) {
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return total;
    total += static_cast<std::size_t>(n);
  }
}

bool raw_peer::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void raw_peer::close() {
  if (fd_ < 0) return;
  owner_.close_fd(fd_);
  fd_ = -1;
}

void raw_peer::reset() {
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

void raw_peer::shutdown_send() {
  ::shutdown(fd_, SHUT_WR);
}

scripted_backend::scripted_backend(script s) : script_(std::move(s)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("scripted_backend: cannot listen on 127.0.0.1");
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

scripted_backend::~scripted_backend() {
  stop_ = true;
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : fds_)
      ::shutdown(fd, SHUT_RDWR);  // wakes a script blocked in a read
  }
  for (auto& t : workers_)
    t.join();
  ::close(listen_fd_);
}

void scripted_backend::close_fd(int fd) {
  // Under the lock: the destructor never shuts down a descriptor number already reused.
  std::lock_guard lock(mutex_);
  std::erase(fds_, fd);
  ::close(fd);
}

void scripted_backend::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    timeval tv{read_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const std::size_t index = accepted_++;
    std::lock_guard lock(mutex_);
    fds_.push_back(fd);
    workers_.emplace_back([this, fd, index] {
      raw_peer peer(*this, fd);
      script_(peer, index);
    });
  }
}

void scripted_backend::record(std::string head) {
  std::lock_guard lock(mutex_);
  recorded_.push_back(std::move(head));
}

std::vector<std::string> scripted_backend::recorded() const {
  std::lock_guard lock(mutex_);
  return recorded_;
}

std::size_t count_method(const std::vector<std::string>& heads, std::string_view method) {
  std::size_t n = 0;
  for (const auto& h : heads)
    if (h.size() > method.size() && h.compare(0, method.size(), method) == 0 &&
        h[method.size()] == ' ')
      ++n;
  return n;
}

}  // namespace tally::test
