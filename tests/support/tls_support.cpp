#include "support/tls_support.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <sstream>

#include "support/process.hpp"

namespace tally::test {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Where the session callback puts the sessions the server issues (tls_exchange runs its whole
// exchange on the calling thread).
thread_local tls_session* session_sink = nullptr;

// OpenSSL calls this when a session becomes resumable (in TLS 1.3: when a ticket arrives).
int on_new_session(SSL*, SSL_SESSION* s) {
  if (!session_sink) return 0;
  *session_sink = tls_session(s, SSL_SESSION_free);
  return 1;  // we keep the reference
}

}  // namespace

certificate_files make_certificate(const temp_dir& dir, const std::string& name,
                                   const std::string& cn, const std::string& san) {
  certificate_files files{(dir.path() / (name + ".pem")).string(),
                          (dir.path() / (name + "-key.pem")).string()};
  std::vector<std::string> argv{
      "openssl", "req",     "-x509", "-newkey", "ec",        "-pkeyopt", "ec_paramgen_curve:P-256",
      "-nodes",  "-days",   "30",    "-subj",   "/CN=" + cn, "-keyout",  files.key,
      "-out",    files.cert};
  if (!san.empty()) {
    argv.push_back("-addext");
    argv.push_back("subjectAltName=" + san);
  }
  auto r = run_command(argv);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return files;
}

tls_backend::tls_backend(const certificate_files& cert, const std::string& client_ca)
    : ctx_(ssl::context::tls_server), acceptor_(ioc_) {
  ctx_.use_certificate_chain_file(cert.cert);
  ctx_.use_private_key_file(cert.key, ssl::context::pem);
  if (!client_ca.empty()) {
    ctx_.load_verify_file(client_ca);
    ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(ep.protocol());
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  net::co_spawn(
      ioc_,
      [this]() -> net::awaitable<void> {
        for (;;) {
          auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
          if (ec) co_return;
          net::co_spawn(
              ioc_,
              [this, s = std::move(socket)]() mutable -> net::awaitable<void> {
                ssl::stream<tcp::socket> stream(std::move(s), ctx_);
                auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
                if (hec) co_return;
                const char* sni =
                    SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
                const std::string name = sni ? sni : "";
                {
                  std::lock_guard lock(mutex_);
                  names_.push_back(name);
                  if (SSL_session_reused(stream.native_handle()) == 1) ++resumed_;
                }
                boost::beast::flat_buffer buffer;
                for (;;) {
                  http::request<http::string_body> req;
                  auto [rec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
                  if (rec) co_return;
                  http::response<http::string_body> res{http::status::ok, req.version()};
                  res.body() = req.target() == "/healthz"
                                   ? std::string("ok\n")
                                   : "tls-backend sni=" + (name.empty() ? "-" : name) + "\n";
                  const bool keep = req.keep_alive() && !close_each_.load();
                  res.keep_alive(keep);
                  res.prepare_payload();
                  auto [wec, m] = co_await http::async_write(stream, res, use_tuple);
                  if (wec || !keep) co_return;
                }
              },
              net::detached);
        }
      },
      net::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

tls_backend::~tls_backend() {
  ioc_.stop();
  thread_.join();
}

std::vector<std::string> tls_backend::server_names() const {
  std::lock_guard lock(mutex_);
  return names_;
}

std::size_t tls_backend::resumed() const {
  std::lock_guard lock(mutex_);
  return resumed_;
}

std::size_t tls_backend::handshakes() const {
  std::lock_guard lock(mutex_);
  return names_.size();
}

tls_result tls_exchange(std::uint16_t port, const std::string& server_name,
                        const std::string& ca_file, const std::string& request,
                        std::chrono::milliseconds timeout, tls_session* session) {
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  if (!ca_file.empty()) {
    ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
  }
  tls_result result;
  SSL_CTX_set_session_cache_mode(ctx.native_handle(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.native_handle(), on_new_session);
  tls_session offered = session ? *session : nullptr;
  session_sink = session;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        ssl::stream<tcp::socket> stream(ioc, ctx);
        auto [cec] = co_await stream.next_layer().async_connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), port), use_tuple);
        if (cec) {
          result.error = "connect: " + cec.message();
          co_return;
        }
        result.connected = true;
        if (!server_name.empty())
          SSL_set_tlsext_host_name(stream.native_handle(), server_name.c_str());
        if (offered) SSL_set_session(stream.native_handle(), offered.get());
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
          result.error = "handshake: " + hec.message();
          co_return;
        }
        result.handshake = true;
        result.resumed = SSL_session_reused(stream.native_handle()) == 1;
        if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
          char cn[256] = {};
          X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
          result.subject_cn = cn;
          X509_free(peer);
        }
        auto [wec, n] = co_await net::async_write(stream, net::buffer(request), use_tuple);
        if (wec) {
          result.error = "write: " + wec.message();
          co_return;
        }
        char buf[16 * 1024];
        for (;;) {
          auto [rec, got] = co_await stream.async_read_some(net::buffer(buf), use_tuple);
          result.response.append(buf, got);
          if (rec) {
            result.ended = rec.message();
            // close_notify back: OpenSSL marks the session of a connection freed without one
            // not resumable.
            co_await stream.async_shutdown(use_tuple);
            co_return;
          }
        }
      },
      net::detached);
  ioc.run_for(timeout);
  if (!ioc.stopped() && result.error.empty()) result.error = "timed out";
  return result;
}

double sample_value(const std::string& scrape, const std::string& family,
                    const std::vector<std::string>& labels) {
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0 && line.rfind(family + " ", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels)
      all = all && line.find(l) != std::string::npos;
    if (!all) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return 0;
}

}  // namespace tally::test
