#include "tally/health/probe.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <string_view>

#include "tally/common/use_tuple.hpp"
#include "tally/health/local_errors.hpp"

namespace tally::health {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;

// A health endpoint answers with a short header; anything bigger is not a health endpoint.
constexpr std::uint32_t max_header_bytes = 16 * 1024;

probe_result failed(std::string_view step, const error_code& ec,
                    const config::health_check_config& cfg) {
  probe_result r;
  if (ec == beast::error::timeout) {
    r.reason = "timeout after " + std::to_string(cfg.timeout.count()) + "ms";
  } else {
    r.reason = std::string(step) + ": " + ec.message();
  }
  return r;
}

}  // namespace

bool status_expected(unsigned status, const std::vector<config::status_range>& ranges) {
  for (const auto& r : ranges) {
    if (status >= r.low && status <= r.high) return true;
  }
  return false;
}

namespace {

// The request and the response header, on a plain or a TLS stream.
template <class Stream>
net::awaitable<probe_result> exchange(Stream& stream, const std::string& host,
                                      const config::health_check_config& cfg) {
  http::request<http::empty_body> req{http::verb::get, cfg.path, 11};
  req.set(http::field::host, host);
  req.set(http::field::connection, "close");
  req.set(http::field::user_agent, "tally-health-check");
  if (auto [ec, n] = co_await http::async_write(stream, req, use_tuple); ec) {
    co_return failed("write", ec, cfg);
  }

  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.header_limit(max_header_bytes);
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple); ec) {
    co_return failed("read", ec, cfg);
  }
  probe_result r;
  r.status = parser.get().result_int();
  r.ok = status_expected(r.status, cfg.expect_status);
  r.reason = "status " + std::to_string(r.status);
  co_return r;
}

}  // namespace

net::awaitable<probe_result> probe(net::ip::tcp::endpoint endpoint, std::string host,
                                   config::health_check_config cfg,
                                   std::shared_ptr<const tls::client_tls> tls,
                                   std::string tls_host) {
  beast::tcp_stream stream(co_await net::this_coro::executor);
  // One deadline for the whole probe: a backend that accepts but never answers fails as a
  // timeout after `timeout`, not after several per-step timeouts.
  stream.expires_after(cfg.timeout);

  if (auto [ec] = co_await stream.async_connect(endpoint, use_tuple); ec) {
    auto r = failed("connect", ec, cfg);
    r.local_error = local_resource_error(ec);
    co_return r;
  }

  probe_result r;
  if (tls) {
    net::ssl::stream<beast::tcp_stream&> secure(stream, tls->context());
    if (!tls->prepare(secure.native_handle(), tls_host)) {
      r.reason = "tls: cannot set up the connection (out of memory)";
      r.local_error = true;
      co_return r;
    }
    // The same session cache as the pool's requests (key: the backend's host:port), so a probe
    // every interval costs a resumption, not a full handshake.
    const auto session_key = tls_host + ':' + std::to_string(endpoint.port());
    tls->offer_session(secure.native_handle(), session_key);
    if (auto [ec] = co_await secure.async_handshake(net::ssl::stream_base::client, use_tuple); ec) {
      tls->forget_session(session_key);
      r = failed("tls handshake", ec, cfg);
      if (const auto verify = SSL_get_verify_result(secure.native_handle()); verify != X509_V_OK)
        r.reason = std::string("tls handshake: certificate verify failed: ") +
                   X509_verify_cert_error_string(verify);
      co_return r;
    }
    r = co_await exchange(secure, host, cfg);
    // After the response header: a TLS 1.3 backend's ticket has been read by then.
    if (r.status != 0) tls->keep_session(secure.native_handle(), session_key);
  } else {
    r = co_await exchange(stream, host, cfg);
  }
  // We asked for Connection: close and read only the header; closing now discards any body.
  error_code ignored;
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  stream.close();
  co_return r;
}

}  // namespace tally::health
