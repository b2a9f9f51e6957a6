#include "tally/tls/tls_settings.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

#include <boost/asio/ssl/error.hpp>

namespace tally::tls {

namespace ssl = boost::asio::ssl;

void apply_common_settings(ssl::context& ctx, config::tls_version min_version) {
  auto* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(
      native, min_version == config::tls_version::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
}

void use_certificate(ssl::context& ctx, const config::tls_certificate_config& cert) {
  boost::system::error_code ec;
  ctx.use_certificate_chain(boost::asio::buffer(cert.cert_pem), ec);
  if (ec)
    throw std::runtime_error("tls certificate \"" + cert.cert_file +
                             "\": " + describe_tls_error(ec));
  ctx.use_private_key(boost::asio::buffer(cert.key_pem), ssl::context::pem, ec);
  if (ec) throw std::runtime_error("tls key \"" + cert.key_file + "\": " + describe_tls_error(ec));
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw std::runtime_error("tls key \"" + cert.key_file + "\" does not match certificate \"" +
                             cert.cert_file + "\"");
}

std::string describe_tls_error(const boost::system::error_code& ec) {
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    const auto code = static_cast<unsigned long>(ec.value());
    if (const char* reason = ERR_reason_error_string(code)) return reason;
  }
  if (ec == ssl::error::stream_truncated) return "the peer closed the connection mid-handshake";
  return ec.message();
}

}  // namespace tally::tls
