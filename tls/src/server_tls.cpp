#include "tally/tls/server_tls.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include <prometheus/counter.h>

#include "tally/tls/tls_settings.hpp"
#include "ticket_keys.hpp"

namespace tally::tls {

namespace ssl = boost::asio::ssl;

namespace {

constexpr unsigned char session_id_context[] = "tally";

// Offers the first protocol of ours the client also offers (tally speaks http/1.1). A client
// that offers only others (h2 alone) still gets a TLS connection without ALPN, as nginx does.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* ours = static_cast<const std::string*>(arg);  // wire format: length, name, ...
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(ours->data()),
                            static_cast<unsigned>(ours->size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// Runs inside the handshake, on the connection's worker, before the certificate is sent.
int select_certificate(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  // A DNS name is at most 253 characters; a longer one matches nothing and gets the default.
  char lower[256];
  const std::size_t size = std::strlen(name);
  if (size >= sizeof lower) return SSL_TLSEXT_ERR_OK;
  std::transform(name, name + size, lower,
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (auto* ctx = static_cast<const server_tls*>(arg)->find({lower, size}))
    SSL_set_SSL_CTX(ssl, ctx->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

std::string alpn_wire_format(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    wire.push_back(static_cast<char>(p.size()));
    wire.append(p);
  }
  return wire;
}

}  // namespace

server_tls::server_tls(const config::listener_tls_config& cfg, std::string listener)
    : listener_(std::move(listener)), alpn_(alpn_wire_format(cfg.alpn)) {
  if (cfg.certificates.empty())
    throw std::runtime_error("listener " + listener_ + ": tls needs at least one certificate");
  for (const auto& cert : cfg.certificates) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    apply_common_settings(*ctx, cfg.min_version);
    use_certificate(*ctx, cert);
    auto* native = ctx->native_handle();
    SSL_CTX_set_session_id_context(native, session_id_context, sizeof session_id_context - 1);
    SSL_CTX_set_alpn_select_cb(native, select_alpn, &alpn_);
    use_rotating_ticket_keys(native);
    for (const auto& name : cert.names) {
      if (name.starts_with("*."))
        wildcard_.try_emplace(name.substr(2), ctx.get());
      else
        exact_.try_emplace(name, ctx.get());
    }
    contexts_.push_back(std::move(ctx));
  }
  auto* first = contexts_.front()->native_handle();
  SSL_CTX_set_tlsext_servername_callback(first, select_certificate);
  SSL_CTX_set_tlsext_servername_arg(first, this);
}

ssl::context* server_tls::find(std::string_view host_name) const {
  if (auto it = exact_.find(host_name); it != exact_.end()) return it->second;
  const auto dot = host_name.find('.');
  if (dot == std::string_view::npos) return nullptr;
  if (auto it = wildcard_.find(host_name.substr(dot + 1)); it != wildcard_.end()) return it->second;
  return nullptr;
}

void server_tls::count_handshake(bool ok) const noexcept {
  if (auto* c = ok ? success_ : failure_) c->Increment();
}

}  // namespace tally::tls
