// One active health check: an HTTP/1.1 GET of `health_check.path` on a fresh connection. The
// probe is a coroutine on the caller's executor and never blocks; the whole exchange (connect,
// write, read of the response header) is bounded by `timeout` through the stream's own expiry
// (STYLE practice 5), so no separate timer races the socket.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tally/config/config.hpp"
#include "tally/tls/client_tls.hpp"

namespace tally::health {

namespace net = boost::asio;

struct probe_result {
  bool ok = false;
  unsigned status = 0;  // HTTP status; 0 when no response header arrived
  // Why, for log lines and /status: "status 200", "status 503", "connect: Connection refused",
  // "timeout after 1000ms", "read: end of stream", ...
  std::string reason;
  // The probe could not run because this process is out of descriptors, buffers, memory or
  // local ports (local_errors.hpp): not a verdict on the backend, so it does not count.
  bool local_error = false;
};

// True when `status` lies in one of the inclusive ranges.
bool status_expected(unsigned status, const std::vector<config::status_range>& ranges);

// GETs cfg.path from `endpoint` with `Host: host` (the backend's configured address),
// `Connection: close` and `User-Agent: tally-health-check`. Only the status line and headers are
// read: a backend streaming a large body cannot stretch the check. Parameters are taken by value
// because the coroutine outlives the caller's expression. Errors are results, never exceptions;
// the coroutine only throws when its own cancellation slot is triggered (terminal cancel).
// With `tls`, the check runs over TLS as the pool's requests do: SNI and the verified name from
// `tls_host` (the backend's configured host), and a failed handshake is a failed check.
net::awaitable<probe_result> probe(net::ip::tcp::endpoint endpoint, std::string host,
                                   config::health_check_config cfg,
                                   std::shared_ptr<const tls::client_tls> tls = nullptr,
                                   std::string tls_host = {});

}  // namespace tally::health
