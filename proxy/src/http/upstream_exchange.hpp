// Forwards one request that downstream_session has parsed, checked and routed: picks a backend,
// reuses or opens a connection to it, sends the request (streaming its body), reads the answer
// and relays it to the client. Retries as retry_policy decides. It never writes tally's own
// answers: when no backend gives one, the result says which (502/503/504) and the session,
// the only writer of tally's responses, the access log and the response metrics, sends it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/backend_slot.hpp"
#include "http/error_response.hpp"
#include "http/http_io.hpp"
#include "http/net_types.hpp"
#include "http/relay_buffer.hpp"
#include "http/retry_policy.hpp"
#include "http/upstream_pool.hpp"
#include "tally/proxy/access_log.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

struct proxy_shared;

// The client side of the connection, lent to the exchange for one request.
struct client_side {
  connection_io& io;          // the client's socket, deadline and bytes read but not parsed
  relay_buffer& relay;        // bodies stream through it, in both directions
  std::string& head;          // serialized message heads, reused for every message
  proxy_allocator allocator;  // the connection's arena, for the response's fields
  std::string_view ip;
};

// The worker thread the exchange runs on.
struct worker_side {
  net::io_context& ioc;
  upstream_pool& upstreams;
  proxy_shared& shared;
  unsigned index;
};

// Everything one exchange needs, as one value.
struct exchange_request {
  client_side client;
  worker_side worker;
  request_parser& parser;
  const routing_snapshot& snap;
  std::size_t pool_index;
  std::string_view request_id;
  std::size_t prefetched = 0;  // request body bytes already in client.relay
  bool client_keep_alive = true;
  unsigned client_version = 11;
  bool upgrade = false;
  std::string_view target;  // origin-form target for the backend; empty: the client's
  std::string_view host;    // an absolute-form target's authority, for Host; empty: kept
};

struct exchange_result {
  unsigned status = 0;       // what the client received, or is to receive from the session
  std::string_view error;    // set: the session answers `status` with this text
  bool keep_alive = false;   // the client connection may carry another request
  bool quiet_close = false;  // the client went quiet or away: close without an answer
  unsigned tries = 0;
  std::string_view backend;  // address of the last backend tried; empty when none was
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  access_termination termination = access_termination::ok;  // for the access log
  std::chrono::nanoseconds upstream_duration{-1};  // last try's start to its response header
};

class upstream_exchange {
 public:
  explicit upstream_exchange(const exchange_request& req) : req_(req) {}

  awaitable<exchange_result> run();

 private:
  awaitable<try_report> try_backend(bool retryable);
  awaitable<try_failure> connect();
  awaitable<try_failure> start_tls(const client_tls& tls);
  void warn_tls_failure(const std::string& why) const;
  std::string tls_session_key() const;  // the backend's host:port: whom a session was verified as
  void keep_tls_session();
  awaitable<try_failure> read_response_head(std::chrono::milliseconds wait, bool& stale);
  // Reads the first piece of the response body (into pending_), before anything is sent to
  // the client: a failure here is still a failed try, which may be retried. take_first_piece
  // does it without a coroutine when the piece is buffered (nullopt: read_first_piece reads).
  std::optional<try_failure> take_first_piece();
  awaitable<try_failure> read_first_piece();
  try_failure first_piece_taken(const body_piece& piece);
  awaitable<exchange_result> relay_response();
  awaitable<exchange_result> tunnel();
  awaitable<void> pause_before(unsigned retry);
  // The policy's inputs for this request; the tried set fills as backends are tried.
  balancer::pick_context pick_context_for(const request_parser::value_type& req) const;
  // The backend this try goes to, marked tried so a retry picks another.
  void select_backend(balancer::pick_context& pick, std::size_t index);
  // The backend's upstream outcome and response-time metrics for one try.
  void observe_try(const try_report& t, std::chrono::steady_clock::duration took) const;
  void count_retry(config::retry_condition why) const;
  // The backend's slot when it has a limit (acquire_unlimited_slot serves the others).
  awaitable<slot_result> wait_for_slot();
  exchange_result fail(try_failure what);
  exchange_result refuse(const refusal& answer);  // tally answers `answer` before any try
  exchange_result gone();                         // the client left while the request waited
  exchange_result result(bool keep_alive) const;
  void report(bool ok);  // the outcome of a try, for outlier ejection
  void warn_local_shortage() const;

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
  std::size_t pending_ = 0;    // response body bytes already in the relay buffer
  bool early_answer_ = false;  // the backend answered before taking the whole request body
  error_code client_ec_;       // why reading the client's body failed (try_failure::client_body)
  access_termination termination_ = access_termination::ok;
  std::chrono::nanoseconds upstream_duration_{-1};
  error_code local_ec_;  // what ran out (try_failure::local_resource)
};

}  // namespace tally::proxy
