// The TLS side of one client listener: one OpenSSL context per configured certificate, and the
// choice between them by the name the client asks for (SNI). Built from the config when a
// routing snapshot is built, so a reload with new certificates is all or nothing, and shared by
// pointer with the connections that use it: an established connection keeps the certificates it
// started with while new connections get the new ones.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "tally/config/config.hpp"

namespace prometheus {
class Counter;
}

namespace tally::tls {

class server_tls {
 public:
  // Throws std::runtime_error naming the certificate file when OpenSSL refuses it (load_config
  // already checked the files, so this is the rare case of a key type OpenSSL cannot use).
  server_tls(const config::listener_tls_config& cfg, std::string listener);
  server_tls(const server_tls&) = delete;
  server_tls& operator=(const server_tls&) = delete;

  // The default certificate's context: every connection starts on it, and the SNI callback
  // moves it to the certificate for the name the client sent.
  boost::asio::ssl::context& context() const noexcept { return *contexts_.front(); }
  const std::string& listener() const noexcept { return listener_; }

  // The certificate for `host_name` (lower case): an exact name, else a "*.parent" wildcard
  // for one label, else null (the default answers).
  boost::asio::ssl::context* find(std::string_view host_name) const;

  // tally_tls_handshakes_total{listener,result}; null counters when metrics are off.
  void bind_counters(prometheus::Counter* success, prometheus::Counter* failure) noexcept {
    success_ = success;
    failure_ = failure;
  }
  void count_handshake(bool ok) const noexcept;

 private:
  std::string listener_;
  std::string alpn_;  // the protocols offered, in ALPN wire format
  std::vector<std::unique_ptr<boost::asio::ssl::context>> contexts_;  // [0] is the default
  // Looked up by string_view: no string is built per handshake.
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using context_by_name =
      std::unordered_map<std::string, boost::asio::ssl::context*, name_hash, std::equal_to<>>;
  context_by_name exact_;
  context_by_name wildcard_;  // key: the parent
  prometheus::Counter* success_ = nullptr;
  prometheus::Counter* failure_ = nullptr;
};

}  // namespace tally::tls
