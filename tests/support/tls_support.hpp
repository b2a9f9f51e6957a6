// TLS pieces for tests: certificates made with the openssl command, a TLS origin server that
// records the SNI it was asked for, and a TLS client whose every exchange is bounded in time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "support/temp_dir.hpp"

namespace tally::test {

struct certificate_files {
  std::string cert;
  std::string key;
};

// A self-signed P-256 certificate NAME.pem / NAME-key.pem in `dir` for `cn`, with the SANs
// `san` ("DNS:a.example.com,IP:127.0.0.1"; empty: none). REQUIREs that openssl succeeded.
certificate_files make_certificate(const temp_dir& dir, const std::string& name,
                                   const std::string& cn, const std::string& san);

// A TLS HTTP/1.1 origin on 127.0.0.1:0, on its own thread. Every request gets 200 with body
// "tls-backend sni=<SNI or ->\n" (keep-alive honoured); /healthz answers "ok\n".
class tls_backend {
 public:
  // `client_ca` set: every client must present a certificate that verifies against it (mTLS).
  explicit tls_backend(const certificate_files& cert, const std::string& client_ca = "");
  ~tls_backend();
  tls_backend(const tls_backend&) = delete;
  tls_backend& operator=(const tls_backend&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The SNI of every completed handshake so far ("" for none), in order.
  std::vector<std::string> server_names() const;
  std::size_t handshakes() const;
  // Handshakes that resumed an earlier session (a ticket) instead of a full handshake.
  std::size_t resumed() const;
  // From now on every response says Connection: close and the connection ends after it.
  void close_after_each_response() { close_each_ = true; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> names_;
  std::size_t resumed_ = 0;
  std::atomic<bool> close_each_{false};
  std::thread thread_;
};

struct tls_result {
  bool connected = false;  // TCP connected
  bool handshake = false;  // TLS handshake done (and, with a CA file, the certificate verified)
  std::string error;       // the first failure, if any
  std::string subject_cn;  // CN of the certificate the server presented
  std::string response;    // every byte read after sending `request`, until close or timeout
  bool resumed = false;    // the handshake resumed the session passed in
  std::string ended;  // how the read after the request ended ("stream truncated": no close_notify)
};

// A TLS session to offer again (resumption); null: none.
using tls_session = std::shared_ptr<SSL_SESSION>;

// Connects to 127.0.0.1:port, handshakes with SNI `server_name` (empty: none), verifying against
// `ca_file` when it is not empty, sends `request` and reads until the server closes. The whole
// exchange ends within `timeout`.
// With `session`: offers *session (when set) for resumption, and stores the session the server
// gave (its ticket arrives with the response) back into it.
tls_result tls_exchange(std::uint16_t port, const std::string& server_name,
                        const std::string& ca_file, const std::string& request,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10),
                        tls_session* session = nullptr);

// The value of one Prometheus sample from a scrape (0 when absent): `family{labels...}` where
// every `label="value"` pair in `labels` appears in the sample's labels.
double sample_value(const std::string& scrape, const std::string& family,
                    const std::vector<std::string>& labels);

}  // namespace tally::test
