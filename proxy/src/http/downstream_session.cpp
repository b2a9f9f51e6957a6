#include "http/downstream_session.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include "http/error_response.hpp"
#include "http/field_scan.hpp"
#include "http/header_rewrite.hpp"
#include "http/proxy_shared.hpp"
#include "http/request_checks.hpp"
#include "http/request_target.hpp"
#include "http/upstream_exchange.hpp"
#include "tally/proxy/log.hpp"
#include "tally/tls/server_tls.hpp"
#include "tally/tls/tls_settings.hpp"

namespace tally::proxy {

using clock = std::chrono::steady_clock;
using tls::describe_tls_error;

namespace {

constexpr std::chrono::seconds tls_close_wait{1};

// tally's answer to a request header that could not be read; nullopt: close quietly.
std::optional<refusal> header_refusal(header_read status) {
  switch (status) {
    case header_read::timed_out:
      return refusal{408, "the request header did not arrive in time",
                     access_termination::header_timeout};
    case header_read::too_large:
      return refusal{431, "the request header block is larger than limits.max_header_bytes",
                     access_termination::headers_too_large};
    case header_read::body_too_large:
      return refusal{413, "the request body is larger than limits.max_body_bytes",
                     access_termination::body_too_large};
    case header_read::malformed:
      return refusal{400, "malformed request"};
    default:
      return std::nullopt;
  }
}

}  // namespace

downstream_session::downstream_session(worker_context& w, tcp_socket socket,
                                       std::shared_ptr<server_tls> tls)
    : worker_(w), io_(proxy_stream(std::move(socket))), tls_(std::move(tls)) {
  error_code ec;
  auto remote = io_.socket.remote_endpoint(ec);
  client_ip_ = ec ? std::string("unknown") : remote.address().to_string();
  worker_.shared().downstream_connections.fetch_add(1, std::memory_order_relaxed);
  worker_.add_session(*this);
}

downstream_session::~downstream_session() {
  worker_.shared().downstream_connections.fetch_sub(1, std::memory_order_relaxed);
}

void downstream_session::start(std::shared_ptr<downstream_session> self) {
  auto& ioc = self->worker_.io_context();
  net::co_spawn(
      ioc, [self = std::move(self)]() { return self->run(true); }, net::detached);
}

void downstream_session::on_drain() {
  if (idle_) close();
}

void downstream_session::close() {
  error_code ec;
  io_.socket.shutdown(tcp::socket::shutdown_both, ec);
  io_.socket.close(ec);
}

void downstream_session::assign_request_id(std::string_view from_client) {
  if (!from_client.empty() && valid_request_id(from_client)) {
    request_id_size_ = from_client.size();
    std::memcpy(request_id_, from_client.data(), request_id_size_);
    return;
  }
  char id[32];
  auto generated = worker_.request_ids().next(id);
  request_id_size_ = generated.size();
  std::memcpy(request_id_, generated.data(), request_id_size_);
}

awaitable<void> downstream_session::send_error(unsigned status, std::string_view detail,
                                               bool keep_alive) {
  if (request_id_size_ == 0) assign_request_id({});  // refused before the header was parsed
  auto bytes = make_error_response(status, detail, request_id(), keep_alive, head_request_);
  io_.deadline.expires_after(std::chrono::seconds(5));
  co_await net::async_write(io_.socket, net::buffer(bytes), use_worker_tuple);
}

awaitable<void> downstream_session::run(bool first) {
  // Not `first && tls_ && !co_await handshake()`: built by GCC 12 that form lost the frame's
  // `this` (every connection crashed on its first request).
  const bool handshake_due = first && tls_;
  if (handshake_due && !co_await handshake()) {
    close();
    co_return;
  }
  for (; co_await next_request(first); first = false) {
    // Pipelined: the next request is already here. TLS: bytes may wait inside OpenSSL where
    // the socket shows none, so read_header reads (and waits) there.
    relay_.release();
    if (io_.buffer.size() > 0 || io_.socket.secure()) continue;
    if (worker_.shared().draining.load(std::memory_order_relaxed)) break;
    io_.buffer.shrink_to_fit();
    park();
    co_return;
  }
  if (io_.socket.secure() && io_.socket.is_open()) {
    // close_notify tells the client the response ended here and was not cut off; its own
    // close_notify (or its close) is awaited briefly, as nginx's ssl shutdown does.
    io_.deadline.expires_after(tls_close_wait);
    co_await io_.socket.tls()->async_shutdown(use_worker_tuple);
  }
  close();
}

void downstream_session::park() {
  // Nothing of the next request yet: the coroutine ends and a plain callback waits for
  // readability, so an idle connection holds no coroutine frame, buffer, arena or parser
  // (HAProxy's buffers on demand), only this object and the wait, in room of its own. This also
  // spares the read that would fail with EAGAIN after every response.
  idle_ = true;
  io_.deadline.expires_after(worker_.snapshot()->cfg->timeouts.idle);
  io_.socket.lowest_layer().async_wait(
      tcp::socket::wait_read,
      net::bind_allocator(idle_wait_allocator(idle_wait_),
                          [self = shared_from_this()](const error_code& ec) {
                            self->idle_ = false;
                            // A timeout or a drain closes quietly, as read_header does before
                            // the first byte; a close by the client is readable, seen by the read.
                            if (ec) {
                              self->close();
                              return;
                            }
                            auto& ioc = self->worker_.io_context();
                            net::co_spawn(
                                ioc, [self]() { return self->run(false); }, net::detached);
                          }));
}

awaitable<bool> downstream_session::handshake() {
  auto& stream = io_.socket.start_tls(tls_->context());
  io_.deadline.expires_after(worker_.snapshot()->cfg->timeouts.request_header);
  auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, use_worker_tuple);
  tls_->count_handshake(!ec);
  if (ec) {
    // Scanners and clients that distrust the certificate fail here all day: debug, not warn.
    if (log_enabled(log_level::debug))
      log_debug("tls handshake with " + client_ip_ + " on " + tls_->listener() + " failed: " +
                (io_.deadline.timed_out() ? std::string("timed out (timeouts.request_header)")
                                          : describe_tls_error(ec)));
    co_return false;
  }
  co_return true;
}

awaitable<bool> downstream_session::next_request(bool first) {
  auto snap = worker_.snapshot();  // held for the whole request: a reload cannot pull it away
  const auto& limits = snap->cfg->limits;
  const auto& t = snap->cfg->timeouts;
  request_parser parser(std::piecewise_construct, std::make_tuple(),
                        std::make_tuple(proxy_allocator(arena_)));
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  request_id_size_ = 0;
  head_request_ = false;
  // Before the first byte of a later request the idle timeout applies; from the first byte
  // (or from accept, for the first request) the whole block must arrive within
  // timeouts.request_header: a deadline slow senders cannot extend byte by byte.
  idle_ = !first && io_.buffer.size() == 0 && io_.socket.secure();
  // A later plain request with nothing buffered comes right after run()'s wait for readability.
  const bool readable = !first && io_.buffer.size() == 0 && !io_.socket.secure();
  const auto head =
      co_await read_header(io_, parser,
                           header_wait{limits.max_header_bytes, first ? t.request_header : t.idle,
                                       t.request_header, &worker_.shared().draining,
                                       std::chrono::steady_clock::time_point::max(), readable});
  idle_ = false;
  if (head.status != header_read::ok) {
    if (auto answer = header_refusal(head.status)) {
      const auto started = clock::now();
      co_await send_error(answer->status, answer->detail, false);
      // The header is incomplete: nothing of it is trusted enough to log.
      record_refusal(*snap, nullptr, *answer, started);
    }
    co_return false;
  }
  head_request_ = parser.get().method() == http::verb::head;
  std::string_view raw{static_cast<const char*>(io_.buffer.data().data()), head.header_bytes};
  const char* problem = find_request_problem(parser.get().base(), raw);
  io_.buffer.consume(head.header_bytes);
  if (problem) {
    const auto started = clock::now();
    co_await send_error(400, problem, false);
    record_refusal(*snap, &parser, {400, {}, access_termination::smuggling_rejected}, started);
    co_return false;
  }
  // The request is served by the routing table current when it arrived, not the one from before
  // an idle keep-alive wait: a backend removed meanwhile (discovery, reload) gets no new request.
  snap = worker_.snapshot();
  co_return co_await serve(parser, *snap);
}

awaitable<std::optional<std::size_t>> downstream_session::prefetch_body(
    request_parser& p, const routing_snapshot& snap) {
  auto& req = p.get();
  if (auto expect = field_scan::find(req, http::field::expect); expect != req.end()) {
    // tally answers 100 Continue itself (as nginx does) and reads the body before choosing a
    // backend, so the client is never left waiting on a backend's interim response.
    if (beast::iequals(expect->value(), "100-continue")) {
      static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
      io_.deadline.expires_after(snap.cfg->timeouts.idle);
      auto [ec, n] = co_await net::async_write(io_.socket, net::buffer(cont), use_worker_tuple);
      if (ec) {
        prefetch_refusal_ = refusal{0, {}, access_termination::client_closed};
        co_return std::nullopt;
      }
    }
    req.erase(http::field::expect);
  }
  // Read the first piece of the body before any backend sees the request: bad chunk framing
  // or an oversized body is caught here, and a body that fits is complete and replayable.
  auto [ec, got] = co_await read_body_piece(io_, p, relay_, snap.cfg->timeouts.idle);
  if (!ec) co_return got;
  prefetch_refusal_ = client_body_refusal(ec);
  if (!prefetch_refusal_.detail.empty())
    co_await send_error(prefetch_refusal_.status, prefetch_refusal_.detail, false);
  co_return std::nullopt;
}

const char* downstream_session::resolve_target(const request_parser::value_type& req,
                                               routed_target& out) {
  const auto target = req.target();
  out.host = field_scan::value(req, http::field::host);
  std::string_view raw_path;
  if (!request_path(target, out.host, raw_path))
    return "the request target is not a path or an absolute URI";
  // Routes and the backend see one path: the normalised one.
  if (!normalize_path(raw_path, path_, out.path))
    return "the request path climbs above / with \"..\" or has a malformed %-escape";
  // Absolute-form goes upstream in origin form, its authority as Host (RFC 9112 section 3.2.2).
  out.absolute = target.front() != '/' && target != "*";
  out.upstream = {};
  if (out.absolute || out.path.data() != raw_path.data()) {
    const auto query = target.find('?');
    target_.assign(out.path);
    if (query != std::string_view::npos) target_.append(target.substr(query));
    out.upstream = target_;
  }
  return nullptr;
}

awaitable<bool> downstream_session::serve(request_parser& p, const routing_snapshot& snap) {
  const auto started = clock::now();
  auto& req = p.get();
  const bool keep_alive =
      field_scan::keep_alive(req) && !worker_.shared().draining.load(std::memory_order_relaxed);
  auto id = field_scan::find_unknown(req, "X-Request-Id");
  assign_request_id(id == req.end() ? std::string_view{} : std::string_view(id->value()));

  routed_target where;
  if (const char* problem = resolve_target(req, where)) {
    co_await send_error(400, problem, false);
    record_refusal(snap, &p, {400, {}, access_termination::bad_request}, started);
    co_return false;
  }
  const auto* route = snap.routes.match(where.host, where.path);
  if (!route) {
    // The body (if any) is unread: the connection cannot carry another request.
    const bool reusable = keep_alive && p.is_done();
    co_await send_error(404, "no route matches this host and path", reusable);
    record_refusal(snap, &p, {404, {}, access_termination::no_route}, started);
    co_return reusable;
  }
  const bool upgrade = wants_upgrade(req.base());
  std::size_t prefetched = 0;
  if (!p.is_done()) {
    auto got = co_await prefetch_body(p, snap);
    if (!got) {
      record_refusal(snap, &p, prefetch_refusal_, started);
      co_return false;
    }
    prefetched = *got;
  }
  auto& w = worker_;
  upstream_exchange exchange(
      exchange_request{client_side{io_, relay_, head_, proxy_allocator(arena_), client_ip_},
                       worker_side{w.io_context(), w.upstreams(), w.shared(), w.index()}, p, snap,
                       route->pool_index, request_id(), prefetched, keep_alive, req.version(),
                       upgrade, where.upstream, where.absolute ? where.host : std::string_view{}});
  const auto result = co_await exchange.run();
  if (!result.error.empty()) co_await send_error(result.status, result.error, result.keep_alive);
  record(snap, route, &p, result, started);
  co_return result.keep_alive;
}

void downstream_session::record_refusal(const routing_snapshot& snap, const request_parser* p,
                                        const refusal& answer, clock::time_point started) {
  exchange_result refused;
  refused.status = answer.status;
  refused.termination = answer.termination;
  record(snap, nullptr, p, refused, started);
}

void downstream_session::record(const routing_snapshot& snap, const route_entry* route,
                                const request_parser* p, const exchange_result& result,
                                clock::time_point started) {
  const auto elapsed = clock::now() - started;
  if (snap.metrics) {
    snap.metrics->count_downstream_bytes(result.bytes_in, result.bytes_out);
    if (route)
      snap.metrics->pool(route->pool_index)
          .count_response(result.status, std::chrono::duration<double>(elapsed).count());
  }
  auto* log = worker_.shared().requests_log;
  if (!log) return;
  access_record r;
  r.time = std::chrono::system_clock::now() -
           std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
  r.client = client_ip_;
  if (p) {
    const auto& req = p->get();
    r.method = req.method_string();
    r.host = field_scan::value(req, http::field::host);
    r.target = req.target();
  }
  r.status = result.status;
  r.bytes_in = result.bytes_in;
  r.bytes_out = result.bytes_out;
  r.duration = elapsed;
  if (route) r.pool = route->pool_name;
  r.backend = result.backend;
  r.tries = result.tries;
  r.upstream_duration = result.upstream_duration;
  r.termination = result.termination;
  r.request_id = request_id();
  log->write(r);
}

}  // namespace tally::proxy
