#include "http/upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace tally::proxy {

namespace {

// An idle keep-alive connection must have nothing to read: a FIN (recv returns 0) means the
// backend closed it, and stray bytes mean it is out of step. One non-blocking peek tells.
bool still_open(upstream_connection& c) {
  auto& sock = c.io.socket;
  if (!sock.is_open()) return false;
  char byte;
  ssize_t n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::unique_ptr<upstream_connection> upstream_pool::checkout(std::uint64_t backend_id,
                                                             clock::time_point now,
                                                             clock::duration max_idle) {
  auto it = idle_.find(backend_id);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second.connections;
  while (!list.empty()) {
    auto conn = std::move(list.back());
    list.pop_back();
    if (now - conn->idle_since <= max_idle && still_open(*conn)) {
      conn->reused = true;
      return conn;
    }
  }
  return nullptr;
}

void upstream_pool::release(std::unique_ptr<upstream_connection> conn, clock::time_point now) {
  auto& entry = idle_[conn->backend_id];
  entry.last_release = now;
  auto& list = entry.connections;
  if (list.size() >= max_idle_per_backend) return;  // closes conn
  conn->idle_since = now;
  conn->io.deadline.expires_never();
  list.push_back(std::move(conn));
}

void upstream_pool::sweep(clock::time_point now, clock::duration max_idle) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second.connections;
    std::erase_if(list, [&](const auto& c) { return now - c->idle_since > max_idle; });
    // An entry whose connections are only checked out and back in stays, with its vector's
    // capacity: recreating it would cost two allocations per request. One that nothing was
    // released to for max_idle (a removed backend, a quiet one) goes.
    it = list.empty() && now - it->second.last_release > max_idle ? idle_.erase(it) : std::next(it);
  }
}

}  // namespace tally::proxy
