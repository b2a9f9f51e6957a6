// One client connection: reads requests one after another (keep-alive, pipelining), checks and
// routes each, hands it to an upstream_exchange and goes on with the next. Runs as one
// coroutine on its worker's io_context. It is the only writer of tally's own responses, the
// access log and the response metrics: the exchange returns what happened and this records it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "http/error_response.hpp"
#include "http/handler_storage.hpp"
#include "http/http_io.hpp"
#include "http/relay_buffer.hpp"
#include "http/worker_context.hpp"
#include "tally/proxy/access_log.hpp"

namespace tally::proxy {

struct exchange_result;

class downstream_session : public session_base,
                           public std::enable_shared_from_this<downstream_session> {
 public:
  // `tls` set: the listener is TLS, and the handshake comes before the first request.
  downstream_session(worker_context& w, tcp_socket socket, std::shared_ptr<server_tls> tls);
  ~downstream_session() override;

  static void start(std::shared_ptr<downstream_session> self);
  void on_drain() override;

 private:
  // Serves requests while they come; `first`: the connection is new (TLS handshakes first).
  awaitable<void> run(bool first);
  // Waits for the next request without a coroutine; its arrival starts run() again.
  void park();
  // The TLS handshake, within timeouts.request_header (a client that connects and says nothing
  // is closed like one that sends no request). False: close the connection.
  awaitable<bool> handshake();
  // Reads and checks one request header and serves the request; false: close the connection.
  awaitable<bool> next_request(bool first);
  awaitable<bool> serve(request_parser& p, const routing_snapshot& snap);
  // Where a request goes: its Host, the normalised path routes match and the target sent
  // upstream (empty: the client's own). Returns the detail of tally's 400, or nullptr.
  struct routed_target {
    std::string_view host;
    std::string_view path;
    std::string_view upstream;
    bool absolute = false;  // absolute-form: its authority goes upstream as Host
  };
  const char* resolve_target(const request_parser::value_type& req, routed_target& out);
  // Answers Expect and reads the first piece of the body; nullopt: the connection is done.
  awaitable<std::optional<std::size_t>> prefetch_body(request_parser& p,
                                                      const routing_snapshot& snap);
  // Writes one of tally's own responses (error_response.hpp) with this request's id.
  awaitable<void> send_error(unsigned status, std::string_view detail, bool keep_alive);
  // The response metrics and the access log line; `route` is null when no route matched, `p`
  // when the request header could not be read.
  void record(const routing_snapshot& snap, const route_entry* route, const request_parser* p,
              const exchange_result& result, std::chrono::steady_clock::time_point started);
  // The same for an answer tally gave without asking a backend.
  void record_refusal(const routing_snapshot& snap, const request_parser* p, const refusal& answer,
                      std::chrono::steady_clock::time_point started);
  // Keeps a valid X-Request-Id from the client, or generates one.
  void assign_request_id(std::string_view from_client);
  std::string_view request_id() const noexcept { return {request_id_, request_id_size_}; }
  void close();

  worker_context& worker_;
  connection_io io_;
  std::shared_ptr<server_tls> tls_;  // this connection's certificates, kept across a reload
  bool idle_ = false;                // between requests, nothing of the next one received yet
  std::string client_ip_;
  relay_buffer relay_;
  header_arena arena_;  // fields of the request and response in flight
  std::string head_;    // serialized message heads, reused for every request
  std::string path_;    // the normalised path, when it differs from the client's
  std::string target_;  // the target sent upstream, when it differs from the client's
  char request_id_[128];
  std::size_t request_id_size_ = 0;
  bool head_request_ = false;  // the request in flight is a HEAD: tally's answers have no body
  // Why prefetch_body gave up, for the access log (status 0: nothing was answered).
  refusal prefetch_refusal_;
  // The idle wait's operation: 208 bytes with Boost 1.81 and GCC 12 on x86-64 (a larger one
  // still works, from Asio's cache).
  static constexpr std::size_t idle_wait_size = 208;
  using idle_wait_allocator = handler_storage_allocator<void, handler_storage<idle_wait_size>>;
  handler_storage<idle_wait_size> idle_wait_;
};

}  // namespace tally::proxy
