#include "upstream_exchange.hpp"

#include <limits>
#include <random>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "downstream_session.hpp"
#include "header_rewrite.hpp"
#include "http_io.hpp"
#include "proxy_shared.hpp"
#include "request_hash.hpp"

namespace tally::proxy {

using clock = std::chrono::steady_clock;

namespace {

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

// Keeps a backend's active-request count right on every path out of an exchange.
class active_request {
 public:
  explicit active_request(balancer::backend& b) : b_(&b) { b_->begin_request(); }
  active_request(const active_request&) = delete;
  active_request& operator=(const active_request&) = delete;
  ~active_request() { b_->end_request(); }

 private:
  balancer::backend* b_;
};

}  // namespace

namespace {

upstream_outcome outcome_of(upstream_exchange::failure f, unsigned status) {
  using failure = upstream_exchange::failure;
  switch (f) {
    case failure::none:
      return status >= 500 ? upstream_outcome::http_5xx : upstream_outcome::success;
    case failure::connect:
    case failure::connect_timeout:
      return upstream_outcome::connect_failure;
    case failure::response_timeout:
      return upstream_outcome::timeout;
    case failure::client_body:
      return upstream_outcome::aborted;
    default:
      return upstream_outcome::reset;
  }
}

// Retries in flight stay under max(3, budget_percent of active requests), so a pool where
// every backend fails cannot multiply its own load.
bool retry_budget_allows(const proxy_shared& shared, unsigned budget_percent) {
  auto active = shared.active_requests.load(std::memory_order_relaxed);
  auto budget = std::max<std::int64_t>(3, active * budget_percent / 100);
  return shared.retries_in_flight.load(std::memory_order_relaxed) < budget;
}

}  // namespace

void upstream_exchange::report(bool ok) {
  // Passive health: the outlier detector counts consecutive failures and ejects.
  if (auto* outliers = session_.owner().shared().outliers)
    outliers->record(*pool_, backend_index_,
                     ok ? health::outcome::success : health::outcome::failure, clock::now());
  else if (ok)
    backend_->record_success();
  else
    backend_->record_failure();
}

net::awaitable<bool> upstream_exchange::run() {
  auto& req = req_.parser.get();
  pool_ = req_.snap.pools[req_.pool_index].get();
  const auto& retry = pool_->config().retry;
  const auto* metrics = req_.snap.metrics.get();

  balancer::pick_context pick;
  pick.worker = session_.owner().index();
  if (pool_->config().policy == config::policy_kind::consistent_hash)
    pick.hash = request_hash(pool_->config().hash_key, req, session_.client_ip());

  // The whole body (if any) is in the relay buffer: the request can be sent again.
  const bool replayable = req_.parser.is_done();
  const bool may_replay = replayable && idempotent(req.method());
  auto& shared = session_.owner().shared();
  shared.active_requests.fetch_add(1, std::memory_order_relaxed);
  struct active_guard {
    proxy_shared& s;
    bool retrying = false;
    ~active_guard() {
      s.active_requests.fetch_sub(1, std::memory_order_relaxed);
      if (retrying) s.retries_in_flight.fetch_sub(1, std::memory_order_relaxed);
    }
  } guard{shared};

  failure last = failure::none;
  for (unsigned attempt = 0; attempt <= retry.attempts; ++attempt) {
    int index = pool_->pick(pick);
    if (index < 0) break;
    pick.tried_mask |= std::uint64_t{1} << (static_cast<unsigned>(index) & 63);
    backend_index_ = static_cast<std::size_t>(index);
    backend_ = pool_->backends()[backend_index_].get();
    ++tries_;
    active_request active(*backend_);
    const bool last_try = attempt == retry.attempts;
    auto result = co_await try_backend(backend_index_, may_replay && !last_try);
    unsigned code = result.what == failure::none ? response_->get().result_int() : 0;
    if (metrics)
      metrics->backend(req_.pool_index, backend_index_).upstream(outcome_of(result.what, code));
    last = result.what;

    using rc = config::retry_condition;
    retry_reason reason = retry_reason::reset;
    bool again = false;
    switch (last) {
      case failure::none:
        if (code < 500) {
          report(true);
          co_return co_await relay_response();
        }
        report(false);
        reason = code == 502   ? retry_reason::status_502
                 : code == 503 ? retry_reason::status_503
                               : retry_reason::status_504;
        again = may_replay && ((code == 502 && retry.retries_on(rc::status_502)) ||
                               (code == 503 && retry.retries_on(rc::status_503)) ||
                               (code == 504 && retry.retries_on(rc::status_504)));
        if (!again || last_try || !retry_budget_allows(shared, retry.budget_percent))
          co_return co_await relay_response();  // the backend's own answer goes to the client
        conn_.reset();  // its body is not read: the connection cannot be reused
        break;
      case failure::client_body:
        co_return co_await fail(last);
      case failure::connect:
        report(false);
        reason = retry_reason::connect_failure;
        again = retry.retries_on(rc::connect_failure);
        break;
      case failure::connect_timeout:
        report(false);
        reason = retry_reason::connect_failure;
        again = retry.retries_on(rc::connect_failure) || retry.retries_on(rc::timeout);
        break;
      case failure::send:
      case failure::response_error:
        report(false);
        again = may_replay && !result.body_consumed && retry.retries_on(rc::reset);
        break;
      case failure::response_timeout:
        report(false);
        reason = retry_reason::timeout;
        again = may_replay && retry.retries_on(rc::timeout);
        break;
      default:
        break;
    }
    if (!again || last_try) break;
    // Connect failures sent nothing: they need no budget. Anything else repeats work.
    if (last != failure::connect && last != failure::connect_timeout) {
      // A request already holding a retry slot keeps it for its later retries.
      if (!guard.retrying && !retry_budget_allows(shared, retry.budget_percent)) break;
      if (!guard.retrying) {
        guard.retrying = true;
        shared.retries_in_flight.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (metrics) metrics->pool(req_.pool_index).retry(reason);
    if (retry.backoff.count() > 0 && attempt > 0) {
      // Exponential backoff with full jitter keeps retries from a failing pool from syncing
      // up; the first retry goes at once (to another backend).
      thread_local std::minstd_rand rng{std::random_device{}()};
      auto cap = retry.backoff * (1u << std::min(attempt - 1, 6u));
      std::uniform_int_distribution<long> dist(0, static_cast<long>(cap.count()));
      net::steady_timer pause(session_.owner().io_context(), std::chrono::milliseconds(dist(rng)));
      co_await pause.async_wait(use_tuple);
    }
  }
  if (last == failure::none) last = failure::no_backend;
  co_return co_await fail(last);
}

net::awaitable<upstream_exchange::try_result> upstream_exchange::try_backend(std::size_t index,
                                                                             bool retryable) {
  auto& w = session_.owner();
  const auto& t = req_.snap.cfg->timeouts;
  const auto& ep = req_.snap.endpoints[req_.pool_index][index];
  auto& req = req_.parser.get();
  const bool replayable = req_.parser.is_done();
  auto& head = session_.head_buffer();
  serialize_upstream_request(
      head, req,
      forward_context{session_.client_ip(), req_.request_id, req_.client_version, req_.upgrade});
  const auto framing = req_.parser.is_done() && req_.prefetched == 0 && !req.chunked()
                           ? body_framing::none
                       : req.chunked() ? body_framing::chunked
                                       : body_framing::raw;

  conn_ = w.upstreams().checkout(backend_->id(), clock::now(), t.idle);
  for (bool fresh_retry_left = true;; fresh_retry_left = false) {
    if (!conn_) {
      conn_ = std::make_unique<upstream_connection>(w.io_context(), backend_->id());
      conn_->io.deadline.expires_after(t.connect);
      auto [ec] = co_await conn_->io.socket.async_connect(ep, use_tuple);
      if (ec) {
        bool timed_out = conn_->io.deadline.timed_out();
        conn_.reset();
        co_return try_result{timed_out ? failure::connect_timeout : failure::connect};
      }
      conn_->io.socket.set_option(tcp::no_delay(true), ec);
    }
    const bool reused = conn_->reused;

    auto sent = co_await relay_body(session_.io(), req_.parser, conn_->io, head, framing,
                                    session_.relay(), req_.prefetched, t.idle, bytes_in_);
    if (replayable) bytes_in_ = req_.prefetched;  // a replay sends the same bytes again
    if (sent.outcome == relay_outcome::read_failed) {
      client_ec_ = sent.ec;
      conn_.reset();
      co_return try_result{failure::client_body, true};
    }
    if (sent.outcome == relay_outcome::write_failed) {
      conn_.reset();
      // A kept-alive connection the backend closed while idle: try once on a new one.
      if (reused && replayable && fresh_retry_left) continue;
      co_return try_result{failure::send, !replayable};
    }

    for (;;) {
      response_.emplace(std::piecewise_construct, std::make_tuple(),
                        std::make_tuple(session_.allocator()));
      response_->header_limit(64 * 1024);
      response_->body_limit(std::numeric_limits<std::uint64_t>::max());
      if (req.method() == http::verb::head) response_->skip(true);
      std::size_t header_bytes = 0;
      // A try that can be retried waits at most retry.per_try_timeout; the last one (or one
      // that cannot be repeated) waits the full timeouts.upstream_response.
      auto wait = retryable ? std::min(t.upstream_response, pool_->config().retry.per_try_timeout)
                            : t.upstream_response;
      auto status =
          co_await read_header(conn_->io, *response_, 64 * 1024, wait, wait, header_bytes);
      if (status != header_read::ok) {
        bool nothing_back = conn_->io.buffer.size() == 0;
        bool timed_out = conn_->io.deadline.timed_out();
        conn_.reset();
        if (!timed_out && reused && replayable && nothing_back && fresh_retry_left)
          break;  // stale keep-alive connection: retry on a fresh one
        co_return try_result{timed_out ? failure::response_timeout : failure::response_error,
                             !replayable};
      }
      conn_->io.buffer.consume(header_bytes);
      auto code = response_->get().result_int();
      // Interim responses are not forwarded: tally answered any Expect itself.
      if (code >= 100 && code < 200 && code != 101) continue;
      co_return try_result{};
    }
  }
}

net::awaitable<bool> upstream_exchange::relay_response() {
  auto& res = response_->get();
  auto& w = session_.owner();
  status_ = res.result_int();
  const auto& t = req_.snap.cfg->timeouts;
  const bool upgraded = req_.upgrade && res.result_int() == 101;
  bool keep_alive = req_.client_keep_alive && !upgraded;
  bool upstream_reusable = res.keep_alive() && !upgraded;
  if (upgraded) co_return co_await tunnel(res);

  response_context out{req_.client_version >= 11 ? 11u : 10u, keep_alive, false,
                       response_body_framing::as_received};
  auto framing = response_->is_done() ? body_framing::none
                 : res.chunked()      ? body_framing::chunked
                                      : body_framing::raw;
  if (!response_->is_done() && !res.has_content_length() && !res.chunked()) {
    // The backend delimits the body by closing: chunk it for HTTP/1.1 clients, close for 1.0.
    upstream_reusable = false;
    if (req_.client_version >= 11) {
      out.framing = response_body_framing::add_chunked;
      framing = body_framing::chunked;
    } else {
      out.keep_alive = keep_alive = false;
    }
  } else if (res.chunked() && req_.client_version < 11) {
    out.framing = response_body_framing::remove_chunked;
    framing = body_framing::raw;
    out.keep_alive = keep_alive = false;
  }

  // Read the first body piece before writing, so a small response leaves in one write.
  std::size_t pending = 0;
  if (!response_->is_done()) {
    auto [ec, got] = co_await read_body_piece(conn_->io, *response_, session_.relay(), t.idle);
    if (ec) {
      conn_.reset();
      report(false);
      co_return co_await fail(ec == beast::error::timeout ? failure::response_timeout
                                                          : failure::response_error);
    }
    pending = got;
  }
  auto& head = session_.head_buffer();
  serialize_downstream_response(head, res, out);
  auto relayed = co_await relay_body(conn_->io, *response_, session_.io(), head, framing,
                                     session_.relay(), pending, t.idle, bytes_out_);
  if (relayed.outcome != relay_outcome::done) {
    // The response has started: nothing can be sent instead. Closing tells the client.
    conn_.reset();
    co_return false;
  }
  if (upstream_reusable && response_->is_done() && conn_->io.buffer.size() == 0)
    w.upstreams().release(std::move(conn_), clock::now());
  else
    conn_.reset();
  co_return keep_alive;
}

namespace {

net::awaitable<void> pump(connection_io& from, connection_io& to, char* buf, std::size_t size,
                          std::chrono::milliseconds idle) {
  for (;;) {
    from.deadline.expires_after(idle);
    auto [rec, n] = co_await from.socket.async_read_some(net::buffer(buf, size), use_tuple);
    if (rec) break;
    to.deadline.expires_after(idle);
    auto [wec, m] = co_await net::async_write(to.socket, net::buffer(buf, n), use_tuple);
    if (wec) break;
  }
  // Either side ending ends the tunnel: closing both wakes the other direction.
  error_code ec;
  from.socket.shutdown(tcp::socket::shutdown_both, ec);
  to.socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace

net::awaitable<bool> upstream_exchange::tunnel(
    http::response<http::buffer_body, proxy_fields>& res) {
  using namespace net::experimental::awaitable_operators;
  const auto idle = req_.snap.cfg->timeouts.idle;
  auto& client = session_.io();
  auto& head = session_.head_buffer();
  serialize_downstream_response(head, res,
                                response_context{req_.client_version >= 11 ? 11u : 10u, false, true,
                                                 response_body_framing::none});
  if (co_await write_piece(client, head, body_framing::none, nullptr, 0, true, idle))
    co_return false;
  // Bytes that arrived behind the 101 or behind the request belong to the new protocol.
  if (conn_->io.buffer.size() > 0) {
    auto [wec, m] = co_await net::async_write(client.socket, conn_->io.buffer.data(), use_tuple);
    if (wec) co_return false;
    conn_->io.buffer.clear();
  }
  if (client.buffer.size() > 0) {
    auto [wec, m] = co_await net::async_write(conn_->io.socket, client.buffer.data(), use_tuple);
    if (wec) co_return false;
    client.buffer.clear();
  }
  auto back = std::make_unique<char[]>(relay_buffer::capacity);
  co_await (pump(client, conn_->io, session_.relay().data(), relay_buffer::capacity, idle) &&
            pump(conn_->io, client, back.get(), relay_buffer::capacity, idle));
  conn_.reset();
  co_return false;
}

net::awaitable<bool> upstream_exchange::fail(failure what) {
  unsigned status = 502;
  std::string_view detail;
  switch (what) {
    case failure::no_backend:
      status = 503;
      detail = "no healthy backend in the pool";
      break;
    case failure::connect:
      detail = "could not connect to a backend";
      break;
    case failure::connect_timeout:
      status = 504;
      detail = "connecting to a backend timed out (timeouts.connect)";
      break;
    case failure::send:
      detail = "the backend closed the connection while the request was sent";
      break;
    case failure::response_timeout:
      status = 504;
      detail = "the backend did not answer within timeouts.upstream_response";
      break;
    case failure::response_error:
      detail = "the backend closed the connection or sent an invalid response";
      break;
    case failure::client_body:
      status_ = client_ec_ == http::error::body_limit ? 413 : 400;
      if (client_ec_ == http::error::body_limit) {
        co_await session_.send_error(413, "the request body is larger than limits.max_body_bytes",
                                     false);
      } else if (client_ec_ != beast::error::timeout && client_ec_ != net::error::eof &&
                 client_ec_ != net::error::connection_reset) {
        co_await session_.send_error(400, "malformed request body framing", false);
      }
      co_return false;
    case failure::none:
      break;
  }
  status_ = status;
  // The connection can go on only when the client's request was read to its end.
  bool keep_alive = req_.client_keep_alive && req_.parser.is_done();
  co_await session_.send_error(status, detail, keep_alive);
  co_return keep_alive;
}

}  // namespace tally::proxy
