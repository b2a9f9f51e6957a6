// Forwards one request that downstream_session has parsed, checked and routed: picks a backend,
// reuses or opens a connection to it, sends the request (streaming its body), reads the answer
// and relays it to the client. Retries where nothing reached a backend or the request can be
// replayed; answers 502/503/504 itself when no backend gives an answer.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "net_types.hpp"
#include "tally/proxy/routing_snapshot.hpp"
#include "upstream_pool.hpp"

namespace tally::proxy {

class downstream_session;

struct exchange_request {
  request_parser& parser;
  const routing_snapshot& snap;
  std::size_t pool_index;
  std::string_view request_id;
  std::size_t prefetched = 0;  // request body bytes already in the session's relay buffer
  bool client_keep_alive = true;
  unsigned client_version = 11;
  bool upgrade = false;
};

class upstream_exchange {
 public:
  upstream_exchange(downstream_session& session, exchange_request req)
      : session_(session), req_(req) {}

  // Returns true when the client connection may carry another request.
  net::awaitable<bool> run();

  // What happened, for the access log and metrics (valid after run()).
  unsigned status() const noexcept { return status_; }
  unsigned tries() const noexcept { return tries_; }
  std::string_view backend_address() const noexcept {
    return backend_ ? std::string_view(backend_->address()) : std::string_view{};
  }
  std::uint64_t bytes_in() const noexcept { return bytes_in_; }
  std::uint64_t bytes_out() const noexcept { return bytes_out_; }

  enum class failure {
    none,
    no_backend,
    connect,
    connect_timeout,
    send,
    response_timeout,
    response_error,
    client_body
  };

 private:
  struct try_result {
    failure what = failure::none;
    bool body_consumed = false;  // client body bytes beyond the prefetch were read (no replay)
  };

  net::awaitable<try_result> try_backend(std::size_t backend_index, bool retryable);
  net::awaitable<bool> relay_response();
  net::awaitable<bool> tunnel(http::response<http::buffer_body, proxy_fields>& res);
  net::awaitable<bool> fail(failure what);
  void report(bool ok);  // the outcome of a try, for outlier ejection

  downstream_session& session_;
  exchange_request req_;
  const balancer::pool* pool_ = nullptr;
  balancer::backend* backend_ = nullptr;
  std::size_t backend_index_ = 0;
  unsigned status_ = 0;
  unsigned tries_ = 0;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::unique_ptr<upstream_connection> conn_;
  std::optional<response_parser> response_;
  error_code client_ec_;  // why reading the client's body failed (failure::client_body)
};

}  // namespace tally::proxy
