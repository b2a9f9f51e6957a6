// TLS from tally to the backends of one pool (requests and health checks): the trust store, the
// optional client certificate (mTLS) and the name each backend must prove. Built with the
// routing snapshot, immutable afterwards, shared by pointer with the connections that use it.
#pragma once

#include <string>
#include <string_view>

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

 private:
  mutable boost::asio::ssl::context context_;
  bool verify_;
  std::string sni_;
};

}  // namespace tally::tls
