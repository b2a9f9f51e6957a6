// TLS from tally to the backends of one pool (requests and health checks): the trust store, the
// optional client certificate (mTLS) and the name each backend must prove. Built with the
// routing snapshot, its settings immutable afterwards, shared by pointer with the connections
// that use it; the only state that changes is the session cache, behind its mutex.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/ssl/context.hpp>

#include "tally/config/config.hpp"

namespace tally::tls {

class client_tls {
 public:
  // Throws std::runtime_error when OpenSSL refuses the CA file or the client certificate.
  explicit client_tls(const config::upstream_tls_config& cfg);
  client_tls(const client_tls&) = delete;
  client_tls& operator=(const client_tls&) = delete;

  boost::asio::ssl::context& context() const noexcept { return context_; }

  // Sets up one connection to a backend whose configured host is `backend_host`: SNI (tls.sni,
  // else the host when it is a name) and the identity the certificate must show (that name, or
  // the IP address). False when OpenSSL cannot (out of memory).
  bool prepare(SSL* ssl, std::string_view backend_host) const;

  // Session resumption, per backend identity (`key`: the backend's host and port, so a session
  // is only offered to the name it was verified for). offer_session() puts the newest session
  // that backend gave on a new connection; keep_session() keeps the one a connection holds once
  // it is resumable (TLS 1.3: after the backend's ticket arrived, i.e. after a read);
  // forget_session() drops it when a handshake failed. Thread-safe: workers share the pool's
  // client_tls, and each call is once per new connection, not per request.
  void offer_session(SSL* ssl, const std::string& key) const;
  void keep_session(SSL* ssl, const std::string& key) const;
  void forget_session(const std::string& key) const;
  ~client_tls();

 private:
  mutable boost::asio::ssl::context context_;
  bool verify_;
  std::string sni_;
  mutable std::mutex sessions_mutex_;
  mutable std::unordered_map<std::string, SSL_SESSION*> sessions_;  // owns one reference each
};

}  // namespace tally::tls
