#include "http/upstream_exchange.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <limits>
#include <random>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "http/backend_slot.hpp"
#include "http/error_response.hpp"
#include "http/field_scan.hpp"
#include "http/header_rewrite.hpp"
#include "http/proxy_shared.hpp"
#include "http/request_hash.hpp"
#include "tally/health/local_errors.hpp"
#include "tally/proxy/log.hpp"
#include "tally/tls/client_tls.hpp"
#include "tally/tls/tls_settings.hpp"

namespace tally::proxy {

using clock = std::chrono::steady_clock;
using tls::describe_tls_error;

namespace {

// At most this many interim (1xx) responses per request, all within one upstream_response.
constexpr unsigned max_interim_responses = 10;

// A non-idempotent request is never the first use of a backend connection idle longer than
// this: the older an idle connection, the likelier the backend is closing it just as the
// request arrives, and such a request cannot be sent again (HAProxy's "safe" reuse).
constexpr std::chrono::seconds unsafe_reuse_max_idle{1};

// How long an upload whose sending failed waits for the backend's early answer: one it sent
// before closing is already buffered.
constexpr std::chrono::milliseconds early_answer_wait{1000};

bool idempotent(http::verb v) {
  switch (v) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::trace:
      return true;
    default:
      return false;
  }
}

upstream_outcome outcome_of(const try_report& t) {
  switch (t.failure) {
    case try_failure::none:
      return t.status >= 500 ? upstream_outcome::http_5xx : upstream_outcome::success;
    case try_failure::connect:
    case try_failure::connect_timeout:
      return upstream_outcome::connect_failure;
    case try_failure::response_timeout:
      return upstream_outcome::timeout;
    case try_failure::client_body:
      return upstream_outcome::aborted;
    case try_failure::local_resource:
      return upstream_outcome::local_error;
    case try_failure::tls_handshake:
      return upstream_outcome::tls_error;
    default:
      return upstream_outcome::reset;
  }
}

// tally's answer when the chosen backend had no slot (max_connections) for the request.
refusal queue_refusal(slot_outcome why) {
  if (why == slot_outcome::queue_full)
    return {503, "the backend is at its pool's max_connections and its queue is full; retry later",
            access_termination::queue_full};
  return {503,
          "no slot of the backend freed up within its pool's queue.timeout (max_connections); "
          "retry later",
          access_termination::queue_full};
}

// tally's answer when no backend gave one.
refusal upstream_refusal(try_failure f) {
  switch (f) {
    case try_failure::connect:
      return {502, "could not connect to a backend", access_termination::connect_failure};
    case try_failure::local_resource:
      // Ours, not the backend's, and usually short-lived: 503 with Retry-After asks the client
      // to come back, where a 502 would blame the backend.
      return {503,
              "tally is out of file descriptors, local ports or memory to reach a backend; "
              "retry shortly (operators: raise the descriptor limit or lower "
              "limits.max_connections)",
              access_termination::local_error};
    case try_failure::tls_handshake:
      return {502, "the TLS handshake with the backend failed (see the log for the reason)",
              access_termination::upstream_tls};
    case try_failure::connect_timeout:
      return {504, "connecting to a backend timed out (timeouts.connect)",
              access_termination::connect_failure};
    case try_failure::send:
      return {502, "the backend closed the connection while the request was sent",
              access_termination::upstream_reset};
    case try_failure::response_timeout:
      return {504, "the backend did not answer within timeouts.upstream_response",
              access_termination::upstream_timeout};
    default:
      return {502, "the backend closed the connection or sent an invalid response",
              access_termination::upstream_reset};
  }
}

}  // namespace

void upstream_exchange::warn_local_shortage() const {
  // Once per 10 s per worker: under a shortage every request fails this way.
  thread_local clock::time_point last_warned{};
  const auto now = clock::now();
  if (last_warned != clock::time_point{} && now - last_warned < std::chrono::seconds(10)) return;
  last_warned = now;
  log_warn("cannot connect to backend " + std::string(backend_->address()) + ": " +
           local_ec_.message() +
           " (a local shortage, not a backend failure: answering 503; raise the descriptor "
           "limit or lower limits.max_connections)");
}

void upstream_exchange::report(bool ok) {
  // Passive health: the outlier detector counts consecutive failures and ejects.
  if (auto* outliers = req_.worker.shared.outliers)
    outliers->record(*pool_, backend_index_,
                     ok ? health::outcome::success : health::outcome::failure, clock::now());
  else if (ok)
    backend_->record_success();
  else
    backend_->record_failure();
}

awaitable<exchange_result> upstream_exchange::run() {
  auto& req = req_.parser.get();
  pool_ = req_.snap.pools[req_.pool_index].get();
  const auto& retry = pool_->config().retry;
  auto pick = pick_context_for(req);
  // The whole body (if any) is in the relay buffer: the request can be sent again.
  const bool may_replay = req_.parser.is_done() && idempotent(req.method());
  request_accounting accounting(req_.worker.shared.active_requests,
                                req_.worker.shared.retries_in_flight);
  try_report last;
  for (unsigned attempt = 0; attempt <= retry.attempts; ++attempt) {
    const int index = pool_->pick(pick);
    if (index < 0) break;
    select_backend(pick, static_cast<std::size_t>(index));
    // Held for the whole try, the response relayed included: the backend's in-flight count.
    auto admitted = acquire_unlimited_slot(*backend_).value_or(slot_result{});
    if (!admitted.slot) admitted = co_await wait_for_slot();
    if (!admitted.slot) {
      // A full backend is not a failing one: no outlier report, and no retry (the policy only
      // chose a full backend because every eligible one is full).
      if (admitted.outcome == slot_outcome::client_gone) co_return gone();
      if (tries_ > 0) break;  // a retry that found no room: the client gets the first failure
      co_return refuse(queue_refusal(admitted.outcome));
    }
    ++tries_;
    const bool last_try = attempt == retry.attempts;
    const auto try_started = clock::now();
    last = co_await try_backend(may_replay && !last_try);
    // The response header's arrival, before the first body piece is awaited.
    const auto answered = clock::now();
    if (last.failure == try_failure::none) upstream_duration_ = answered - try_started;
    // Nothing reached the client yet: a backend that dies between the head and the body
    // failed this try like one that reset before answering.
    if (last.failure == try_failure::none && !(req_.upgrade && last.status == 101)) {
      auto f = take_first_piece();
      if (!f) f = co_await read_first_piece();
      if (*f != try_failure::none) last = try_report{*f, 0, !req_.parser.is_done()};
    }
    observe_try(last, answered - try_started);
    // Not the backend's fault: no outlier report, no retry (any backend fails the same way).
    if (last.failure == try_failure::client_body || last.failure == try_failure::local_resource)
      co_return fail(last.failure);
    auto decision = decide_retry(last, retry, may_replay, last_try);
    report(!decision.backend_failed);
    if (decision.retry && decision.uses_budget)
      decision.retry = accounting.take_retry_slot(retry.budget_percent);
    if (!decision.retry) {
      // A response, even a 5xx, is the backend's own answer: the client gets it.
      if (last.failure == try_failure::none) co_return co_await relay_response();
      break;
    }
    conn_.reset();          // a 5xx's body is not read: its connection cannot be reused
    admitted.slot.reset();  // a waiter may use the backend while this request backs off
    count_retry(decision.reason);
    co_await pause_before(attempt + 1);
  }
  if (tries_ == 0)
    co_return refuse(
        {503, "no healthy backend in the pool", access_termination::no_healthy_backend});
  co_return fail(last.failure);
}

balancer::pick_context upstream_exchange::pick_context_for(
    const request_parser::value_type& req) const {
  balancer::pick_context pick;
  pick.worker = req_.worker.index;
  if (pool_->config().policy == config::policy_kind::consistent_hash)
    pick.hash = request_hash(pool_->config().hash_key, req, req_.client.ip);
  return pick;
}

void upstream_exchange::select_backend(balancer::pick_context& pick, std::size_t index) {
  pick.tried.add(index);
  backend_index_ = index;
  backend_ = pool_->backends()[index].get();
}

void upstream_exchange::observe_try(const try_report& t, clock::duration took) const {
  const auto* metrics = req_.snap.metrics.get();
  if (!metrics) return;
  auto& bm = metrics->backend(req_.pool_index, backend_index_);
  bm.upstream(outcome_of(t));
  if (t.failure == try_failure::none)
    bm.observe_upstream(std::chrono::duration<double>(took).count());
}

void upstream_exchange::count_retry(config::retry_condition why) const {
  if (auto* metrics = req_.snap.metrics.get()) metrics->pool(req_.pool_index).retry(why);
}

awaitable<slot_result> upstream_exchange::wait_for_slot() {
  co_return co_await acquire_slot(*backend_, pool_->config().queue.timeout, req_.client.io);
}

awaitable<void> upstream_exchange::pause_before(unsigned retry) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const auto wait = retry_backoff(pool_->config().retry.backoff, retry, rng);
  if (wait.count() == 0) co_return;
  worker_timer pause(req_.worker.ioc, wait);
  co_await pause.async_wait(use_worker_tuple);
}

awaitable<try_failure> upstream_exchange::connect() {
  const auto& ep = req_.snap.endpoints[req_.pool_index][backend_index_];
  conn_ = std::make_unique<upstream_connection>(req_.worker.ioc, backend_->id());
  conn_->io.deadline.expires_after(req_.snap.cfg->timeouts.connect);
  auto [ec] = co_await conn_->io.socket.async_connect(ep, use_worker_tuple);
  if (ec) {
    const bool timed_out = conn_->io.deadline.timed_out();
    conn_.reset();
    if (health::local_resource_error(ec)) {
      local_ec_ = ec;
      co_return try_failure::local_resource;
    }
    co_return timed_out ? try_failure::connect_timeout : try_failure::connect;
  }
  conn_->io.socket.set_option(tcp::no_delay(true), ec);
  if (const auto& tls = req_.snap.upstream_tls[req_.pool_index]) co_return co_await start_tls(*tls);
  co_return try_failure::none;
}

awaitable<try_failure> upstream_exchange::start_tls(const client_tls& tls) {
  conn_->tls = &tls;
  auto& stream = conn_->io.socket.start_tls(tls.context());
  const auto& host = req_.snap.cfg->pools[req_.pool_index].backends[backend_index_].address.host;
  if (!tls.prepare(stream.native_handle(), host)) {
    conn_.reset();
    co_return try_failure::local_resource;
  }
  const auto key = tls_session_key();
  tls.offer_session(stream.native_handle(), key);
  // The handshake is part of connecting: it has what is left of timeouts.connect.
  auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::client, use_worker_tuple);
  if (!ec) co_return try_failure::none;
  tls.forget_session(key);
  std::string why = conn_->io.deadline.timed_out() ? std::string("timed out (timeouts.connect)")
                                                   : describe_tls_error(ec);
  if (const auto verify = SSL_get_verify_result(stream.native_handle()); verify != X509_V_OK)
    why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify) +
          " (check the pool's tls.ca_file and tls.sni)";
  conn_.reset();
  warn_tls_failure(why);
  co_return try_failure::tls_handshake;
}

std::string upstream_exchange::tls_session_key() const {
  const auto& address = req_.snap.cfg->pools[req_.pool_index].backends[backend_index_].address;
  return address.host + ':' + std::to_string(address.port);
}

void upstream_exchange::keep_tls_session() {
  // Once per connection, after its first response: by then a TLS 1.3 backend's ticket has been
  // read, and the next new connection to this backend can resume instead of a full handshake.
  // The connection was made with (or, reused, checked against) this snapshot's client_tls.
  const auto& tls = req_.snap.upstream_tls[req_.pool_index];
  auto* stream = conn_->io.socket.tls();
  if (!tls || stream == nullptr || conn_->tls_session_kept) return;
  conn_->tls_session_kept = true;
  tls->keep_session(stream->native_handle(), tls_session_key());
}

void upstream_exchange::warn_tls_failure(const std::string& why) const {
  // Once per second per worker: a backend with a bad certificate fails every request.
  thread_local clock::time_point last_warned{};
  const auto now = clock::now();
  if (last_warned != clock::time_point{} && now - last_warned < std::chrono::seconds(1)) return;
  last_warned = now;
  log_warn("tls handshake with backend " + std::string(backend_->address()) + " of pool " +
           std::string(pool_->name()) + " failed: " + why);
}

awaitable<try_report> upstream_exchange::try_backend(bool retryable) {
  const auto& t = req_.snap.cfg->timeouts;
  auto& req = req_.parser.get();
  const bool replayable = req_.parser.is_done();
  auto& head = req_.client.head;
  serialize_upstream_request(
      head, req,
      forward_context{req_.client.ip, req_.request_id, req_.client_version, req_.upgrade,
                      req_.target, req_.host, req_.client.io.socket.secure()});
  const bool chunked = field_scan::chunked(req);
  const auto framing = replayable && req_.prefetched == 0 && !chunked ? body_framing::none
                       : chunked                                      ? body_framing::chunked
                                                                      : body_framing::raw;
  early_answer_ = false;
  const bool safe = idempotent(req.method());
  const auto max_idle =
      safe ? clock::duration(t.idle) : std::min<clock::duration>(t.idle, unsafe_reuse_max_idle);
  conn_ = req_.worker.upstreams.checkout(backend_->id(), clock::now(), max_idle);
  // A reload that changed the pool's tls settings retires connections made with the old ones.
  if (conn_ && conn_->tls != req_.snap.upstream_tls[req_.pool_index].get()) conn_.reset();
  // A try that can be retried waits at most retry.per_try_timeout; the last one (or one that
  // cannot be repeated) waits the full timeouts.upstream_response.
  const auto wait = retryable ? std::min(t.upstream_response, pool_->config().retry.per_try_timeout)
                              : t.upstream_response;
  for (bool fresh_retry_left = true;; fresh_retry_left = false) {
    if (!conn_) {
      if (auto f = co_await connect(); f != try_failure::none) co_return try_report{f};
    }
    const bool reused = conn_->reused;
    auto sent = co_await relay_body(req_.client.io, req_.parser, conn_->io, req_.client.relay,
                                    relay_plan{head, framing, req_.prefetched, t.idle});
    // A replay sends the same bytes again; a streamed body was sent once.
    bytes_in_ = replayable ? req_.prefetched : bytes_in_ + sent.body_bytes;
    if (sent.outcome == relay_outcome::read_failed) {
      client_ec_ = sent.ec;
      conn_.reset();
      co_return try_report{try_failure::client_body, 0, true};
    }
    // A kept-alive connection the backend closed while idle: try once on a new one, unless
    // the request must not be sent twice (the backend may have acted on it before closing).
    const bool may_renew = reused && replayable && safe && fresh_retry_left;
    bool stale = false;
    if (sent.outcome == relay_outcome::write_failed) {
      // The backend may have answered before reading the whole body (413, 401) and closed:
      // its answer, when it sent one, is the client's.
      const auto early = co_await read_response_head(std::min(wait, early_answer_wait), stale);
      if (early == try_failure::none) {
        early_answer_ = true;
        co_return try_report{early, response_->get().result_int()};
      }
      conn_.reset();
      if (may_renew) continue;
      co_return try_report{try_failure::send, 0, !replayable};
    }
    const auto got = co_await read_response_head(wait, stale);
    if (got == try_failure::none) co_return try_report{got, response_->get().result_int()};
    if (stale && may_renew) continue;
    co_return try_report{got, 0, !replayable};
  }
}

awaitable<try_failure> upstream_exchange::read_response_head(std::chrono::milliseconds wait,
                                                             bool& stale) {
  // One deadline for the final response and every interim response before it.
  const auto not_after = clock::now() + wait;
  for (unsigned interim = 0;; ++interim) {
    response_.emplace(std::piecewise_construct, std::make_tuple(),
                      std::make_tuple(req_.client.allocator));
    response_->header_limit(64 * 1024);
    response_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (req_.parser.get().method() == http::verb::head) response_->skip(true);
    const auto head = co_await read_header(
        conn_->io, *response_, header_wait{std::size_t{64} * 1024, wait, wait, nullptr, not_after});
    if (head.status != header_read::ok) {
      const bool timed_out = conn_->io.deadline.timed_out();
      // Nothing at all came back: the backend may have closed a kept-alive connection.
      stale = !timed_out && conn_->io.buffer.size() == 0;
      conn_.reset();
      co_return timed_out ? try_failure::response_timeout : try_failure::response_error;
    }
    conn_->io.buffer.consume(head.header_bytes);
    const auto& res = response_->get();
    const auto code = res.result_int();
    // Beast takes any three digits; a status HTTP does not define cannot be relayed, and two
    // Transfer-Encoding fields leave the framing to whichever field a reader believes.
    // One field listing chunked twice ("chunked, chunked") fools message::chunked() the same way.
    const bool invalid = code < 100 || code > 599 ||
                         field_scan::count(res, http::field::transfer_encoding) > 1 ||
                         response_->chunked() != field_scan::chunked(res);
    // A 101 switches protocols only for an upgrade the client asked for (and tally forwarded).
    const bool unasked_switch = code == 101 && !req_.upgrade;
    if (invalid || unasked_switch ||
        (code < 200 && code != 101 && interim >= max_interim_responses)) {
      conn_.reset();  // out of step with the backend: never reused
      co_return try_failure::response_error;
    }
    // Interim responses are not forwarded: tally answered any Expect itself.
    if (code >= 100 && code < 200 && code != 101) continue;
    keep_tls_session();
    co_return try_failure::none;
  }
}

std::optional<try_failure> upstream_exchange::take_first_piece() {
  pending_ = 0;
  if (response_->is_done()) return try_failure::none;
  auto piece = take_buffered_body(conn_->io, *response_, req_.client.relay);
  if (!piece) return std::nullopt;
  return first_piece_taken(*piece);
}

awaitable<try_failure> upstream_exchange::read_first_piece() {
  co_return first_piece_taken(co_await read_body_piece(conn_->io, *response_, req_.client.relay,
                                                       req_.snap.cfg->timeouts.idle));
}

try_failure upstream_exchange::first_piece_taken(const body_piece& piece) {
  if (const auto ec = piece.first) {
    conn_.reset();
    return ec == beast::error::timeout ? try_failure::response_timeout
                                       : try_failure::response_error;
  }
  pending_ = piece.second;
  return try_failure::none;
}

awaitable<exchange_result> upstream_exchange::relay_response() {
  auto& res = response_->get();
  status_ = res.result_int();
  const auto& t = req_.snap.cfg->timeouts;
  if (req_.upgrade && status_ == 101) co_return co_await tunnel();
  // A request whose body was not read to its end leaves the client connection unusable.
  bool keep_alive = req_.client_keep_alive && req_.parser.is_done();
  bool upstream_reusable = field_scan::keep_alive(res) && !early_answer_;
  const bool chunked = field_scan::chunked(res);
  response_context out{req_.client_version >= 11 ? 11u : 10u, keep_alive, false,
                       response_body_framing::as_received};
  auto framing = response_->is_done() ? body_framing::none
                 : chunked            ? body_framing::chunked
                                      : body_framing::raw;
  if (!response_->is_done() && !chunked &&
      field_scan::find(res, http::field::content_length) == res.end()) {
    // The backend delimits the body by closing: chunk it for HTTP/1.1 clients, close for 1.0.
    upstream_reusable = false;
    if (req_.client_version >= 11) {
      out.framing = response_body_framing::add_chunked;
      framing = body_framing::chunked;
    } else {
      out.keep_alive = keep_alive = false;
    }
  } else if (chunked && req_.client_version < 11) {
    out.framing = response_body_framing::remove_chunked;
    framing = body_framing::raw;
    out.keep_alive = keep_alive = false;
  }
  // The first body piece (read_first_piece) leaves with the head: a small response is one write.
  serialize_downstream_response(req_.client.head, res, out);
  auto relayed = co_await relay_body(conn_->io, *response_, req_.client.io, req_.client.relay,
                                     relay_plan{req_.client.head, framing, pending_, t.idle});
  bytes_out_ += relayed.body_bytes;
  // Once the response has started nothing can be sent instead: closing tells the client.
  if (relayed.outcome != relay_outcome::done) keep_alive = false;
  if (relayed.outcome == relay_outcome::read_failed)
    termination_ = access_termination::upstream_aborted;
  else if (relayed.outcome == relay_outcome::write_failed)
    termination_ = access_termination::client_closed;
  if (relayed.outcome == relay_outcome::done && upstream_reusable && response_->is_done() &&
      conn_->io.buffer.size() == 0)
    req_.worker.upstreams.release(std::move(conn_), clock::now());
  else
    conn_.reset();
  co_return result(keep_alive);
}

namespace {

awaitable<void> pump(connection_io& from, connection_io& to, char* buf, std::size_t size,
                     std::chrono::milliseconds idle) {
  for (;;) {
    from.deadline.expires_after(idle);
    auto [rec, n] = co_await from.socket.async_read_some(net::buffer(buf, size), use_worker_tuple);
    if (rec) break;
    to.deadline.expires_after(idle);
    auto [wec, m] = co_await net::async_write(to.socket, net::buffer(buf, n), use_worker_tuple);
    if (wec) break;
  }
  // Either side ending ends the tunnel: closing both wakes the other direction.
  error_code ec;
  from.socket.shutdown(tcp::socket::shutdown_both, ec);
  to.socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace

awaitable<exchange_result> upstream_exchange::tunnel() {
  using namespace net::experimental::awaitable_operators;
  const auto idle = req_.snap.cfg->timeouts.idle;
  auto& client = req_.client.io;
  auto& head = req_.client.head;
  serialize_downstream_response(head, response_->get(),
                                response_context{req_.client_version >= 11 ? 11u : 10u, false, true,
                                                 response_body_framing::none});
  if (co_await write_piece(client, head, body_framing::none, nullptr, 0, true, idle))
    co_return result(false);
  // Bytes that arrived behind the 101 or behind the request belong to the new protocol.
  if (conn_->io.buffer.size() > 0) {
    auto [wec, m] =
        co_await net::async_write(client.socket, conn_->io.buffer.data(), use_worker_tuple);
    if (wec) co_return result(false);
    conn_->io.buffer.clear();
  }
  if (client.buffer.size() > 0) {
    auto [wec, m] =
        co_await net::async_write(conn_->io.socket, client.buffer.data(), use_worker_tuple);
    if (wec) co_return result(false);
    client.buffer.clear();
  }
  auto back = std::make_unique<char[]>(relay_buffer::capacity);
  co_await (pump(client, conn_->io, req_.client.relay.data(), relay_buffer::capacity, idle) &&
            pump(conn_->io, client, back.get(), relay_buffer::capacity, idle));
  conn_.reset();
  co_return result(false);
}

exchange_result upstream_exchange::fail(try_failure what) {
  if (what == try_failure::client_body) {
    const auto answer = client_body_refusal(client_ec_);
    status_ = answer.status;
    termination_ = answer.termination;
    auto out = result(false);
    out.error = answer.detail;
    out.quiet_close = answer.detail.empty();
    return out;
  }
  if (what == try_failure::local_resource) warn_local_shortage();
  return refuse(upstream_refusal(what));
}

exchange_result upstream_exchange::refuse(const refusal& answer) {
  status_ = answer.status;
  termination_ = answer.termination;
  // The connection can go on only when the client's request was read to its end.
  auto out = result(req_.client_keep_alive && req_.parser.is_done());
  out.error = answer.detail;
  return out;
}

exchange_result upstream_exchange::gone() {
  // Nothing is sent; the access log and tally_requests_total record a 503 that nobody read.
  status_ = 503;
  termination_ = access_termination::client_closed;
  auto out = result(false);
  out.quiet_close = true;
  return out;
}

exchange_result upstream_exchange::result(bool keep_alive) const {
  exchange_result out;
  out.status = status_;
  out.keep_alive = keep_alive;
  out.tries = tries_;
  if (backend_) out.backend = backend_->address();
  out.bytes_in = bytes_in_;
  out.bytes_out = bytes_out_;
  out.termination = termination_;
  out.upstream_duration = upstream_duration_;
  return out;
}

}  // namespace tally::proxy
