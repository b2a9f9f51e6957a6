// What every TLS context of tally shares, server and client side alike.
#pragma once

#include <string>

#include <boost/asio/ssl/context.hpp>

#include "tally/config/config.hpp"

namespace tally::tls {

// TLS 1.2 or 1.3 at least (never older), no compression, no renegotiation, and OpenSSL
// releasing a connection's buffers while it is idle: an idle keep-alive connection then holds
// only its session state.
void apply_common_settings(boost::asio::ssl::context& ctx, config::tls_version min_version);

// Loads a certificate chain and its key (PEM text kept by the config). Throws
// std::runtime_error naming `cert.cert_file` when OpenSSL refuses either.
void use_certificate(boost::asio::ssl::context& ctx, const config::tls_certificate_config& cert);

// The reason of the last OpenSSL failure on this thread, for the log ("certificate verify
// failed", "wrong version number"); `ec` when OpenSSL recorded none.
std::string describe_tls_error(const boost::system::error_code& ec);

}  // namespace tally::tls
