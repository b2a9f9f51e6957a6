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
