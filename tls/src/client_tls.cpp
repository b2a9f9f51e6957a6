#include "tally/tls/client_tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

#include <boost/asio/ip/address.hpp>

#include "tally/tls/tls_settings.hpp"

namespace tally::tls {

namespace ssl = boost::asio::ssl;

client_tls::client_tls(const config::upstream_tls_config& cfg)
    : context_(ssl::context::tls_client), verify_(cfg.verify), sni_(cfg.sni) {
  apply_common_settings(context_, cfg.min_version);
  boost::system::error_code ec;
  if (cfg.ca_pem.empty())
    context_.set_default_verify_paths(ec);
  else
    context_.add_certificate_authority(boost::asio::buffer(cfg.ca_pem), ec);
  if (ec)
    throw std::runtime_error("tls ca_file \"" + cfg.ca_file + "\": " + describe_tls_error(ec));
  context_.set_verify_mode(cfg.verify ? ssl::verify_peer : ssl::verify_none);
  if (cfg.client_certificate) use_certificate(context_, *cfg.client_certificate);
}

client_tls::~client_tls() {
  for (auto& [key, session] : sessions_)
    SSL_SESSION_free(session);
}

void client_tls::offer_session(SSL* ssl, const std::string& key) const {
  std::lock_guard lock(sessions_mutex_);
  auto it = sessions_.find(key);
  // SSL_set_session takes its own reference; a session the backend no longer knows only means
  // a full handshake.
  if (it != sessions_.end()) SSL_set_session(ssl, it->second);
}

void client_tls::keep_session(SSL* ssl, const std::string& key) const {
  SSL_SESSION* current = SSL_get0_session(ssl);
  if (current == nullptr || SSL_SESSION_is_resumable(current) != 1) return;
  // A copy: OpenSSL marks a connection's own session not resumable when the connection ends
  // without close_notify, as backends' idle closes do (SSL_free -> ssl_clear_bad_session).
  SSL_SESSION* session = SSL_SESSION_dup(current);
  if (session == nullptr) return;
  std::lock_guard lock(sessions_mutex_);
  auto [it, added] = sessions_.try_emplace(key, session);
  if (!added) {
    SSL_SESSION_free(it->second);
    it->second = session;
  }
}

void client_tls::forget_session(const std::string& key) const {
  std::lock_guard lock(sessions_mutex_);
  if (auto it = sessions_.find(key); it != sessions_.end()) {
    SSL_SESSION_free(it->second);
    sessions_.erase(it);
  }
}

bool client_tls::prepare(SSL* ssl, std::string_view backend_host) const {
  const std::string host(backend_host);
  boost::system::error_code not_ip;
  const auto ip = boost::asio::ip::make_address(host, not_ip);
  const std::string& name = !sni_.empty() ? sni_ : host;
  const bool name_is_ip = !sni_.empty() ? false : !not_ip;
  // SNI carries names only (RFC 6066): an IP literal is not sent.
  if (!name_is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return false;
  if (!verify_) return true;
  if (name_is_ip)
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip.to_string().c_str()) == 1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, name.c_str()) == 1;
}

}  // namespace tally::tls
