#include "downstream_session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>

#include "error_response.hpp"
#include "header_rewrite.hpp"
#include "proxy_shared.hpp"
#include "request_checks.hpp"
#include "upstream_exchange.hpp"

namespace tally::proxy {

using clock = std::chrono::steady_clock;

downstream_session::downstream_session(worker& w, tcp::socket socket)
    : worker_(w), io_(std::move(socket)) {
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
      ioc, [self = std::move(self)]() { return self->run(); }, net::detached);
}

void downstream_session::on_drain() {
  if (idle_) close();
}

void downstream_session::close() {
  error_code ec;
  io_.socket.shutdown(tcp::socket::shutdown_both, ec);
  io_.socket.close(ec);
}

net::awaitable<void> downstream_session::send_error(unsigned status, std::string_view detail,
                                                    bool keep_alive) {
  if (request_id_size_ == 0) {  // refused before the header was parsed: still give an id
    char id[32];
    auto generated = worker_.request_ids().next(id);
    request_id_size_ = generated.size();
    std::memcpy(request_id_, generated.data(), request_id_size_);
  }
  auto bytes = make_error_response(status, detail, {request_id_, request_id_size_}, keep_alive);
  io_.deadline.expires_after(std::chrono::seconds(5));
  co_await net::async_write(io_.socket, net::buffer(bytes), use_tuple);
}

net::awaitable<void> downstream_session::run() {
  bool first_request = true;
  for (;;) {
    auto snap = worker_.snapshot();  // held for the whole request: a reload cannot pull it away
    request_parser parser(std::piecewise_construct, std::make_tuple(),
                          std::make_tuple(proxy_allocator(arena_)));
    parser.header_limit(static_cast<std::uint32_t>(snap->cfg->limits.max_header_bytes));
    parser.body_limit(snap->cfg->limits.max_body_bytes);
    std::size_t header_bytes = 0;
    request_id_size_ = 0;
    const auto& t = snap->cfg->timeouts;
    // Before the first byte of a later request the idle timeout applies; from the first byte
    // (or from accept, for the first request) the whole block must arrive within
    // timeouts.request_header: a deadline slow senders cannot extend byte by byte.
    idle_ = !first_request && io_.buffer.size() == 0;
    auto status = co_await read_header(io_, parser, snap->cfg->limits.max_header_bytes,
                                       first_request ? t.request_header : t.idle, t.request_header,
                                       header_bytes, &worker_.shared().draining);
    idle_ = false;
    first_request = false;
    switch (status) {
      case header_read::ok:
        break;
      case header_read::closed:
        close();
        co_return;
      case header_read::timed_out:
        co_await send_error(408, "the request header did not arrive in time", false);
        close();
        co_return;
      case header_read::too_large:
        co_await send_error(431, "the request header block is larger than limits.max_header_bytes",
                            false);
        close();
        co_return;
      case header_read::body_too_large:
        co_await send_error(413, "the request body is larger than limits.max_body_bytes", false);
        close();
        co_return;
      case header_read::malformed:
        co_await send_error(400, "malformed request", false);
        close();
        co_return;
    }
    std::string_view raw{static_cast<const char*>(io_.buffer.data().data()), header_bytes};
    const char* problem = find_request_problem(parser.get().base(), raw);
    io_.buffer.consume(header_bytes);
    if (problem) {
      co_await send_error(400, problem, false);
      close();
      co_return;
    }
    if (!co_await serve(parser, *snap)) {
      close();
      co_return;
    }
  }
}

namespace {

// The path a route matches: origin-form up to the query, absolute-form's path, or "*".
bool request_path(std::string_view target, std::string_view& host, std::string_view& path) {
  if (!target.empty() && target.front() == '/') {
    path = target.substr(0, target.find('?'));
    return true;
  }
  if (target == "*") {
    path = target;
    return true;
  }
  auto url = boost::urls::parse_absolute_uri(target);
  if (!url) return false;
  if (url->has_authority()) host = url->encoded_host();
  path = url->encoded_path();
  if (path.empty()) path = "/";
  return true;
}

}  // namespace

net::awaitable<bool> downstream_session::serve(request_parser& p, const routing_snapshot& snap) {
  const auto started = std::chrono::steady_clock::now();
  auto& req = p.get();
  const bool draining = worker_.shared().draining.load(std::memory_order_relaxed);
  const bool keep_alive = req.keep_alive() && !draining;

  if (auto it = req.find("X-Request-Id"); it != req.end() && valid_request_id(it->value())) {
    request_id_size_ = it->value().size();
    std::memcpy(request_id_, it->value().data(), request_id_size_);
  } else {
    char id[32];
    auto generated = worker_.request_ids().next(id);
    request_id_size_ = generated.size();
    std::memcpy(request_id_, generated.data(), request_id_size_);
  }

  std::string_view host = req[http::field::host];
  std::string_view path;
  if (!request_path(req.target(), host, path)) {
    co_await send_error(400, "the request target is not a path or an absolute URI", false);
    co_return false;
  }
  const auto* route = snap.routes.match(host, path);
  if (!route) {
    // The body (if any) is unread: the connection cannot carry another request.
    bool reusable = keep_alive && p.is_done();
    co_await send_error(404, "no route matches this host and path", reusable);
    co_return reusable;
  }

  const bool upgrade = wants_upgrade(req.base());
  std::size_t prefetched = 0;
  if (!p.is_done()) {
    if (auto expect = req.find(http::field::expect); expect != req.end()) {
      // tally answers 100 Continue itself (as nginx does) and reads the body before choosing a
      // backend, so the client is never left waiting on a backend's interim response.
      if (beast::iequals(expect->value(), "100-continue")) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        io_.deadline.expires_after(snap.cfg->timeouts.idle);
        auto [ec, n] = co_await net::async_write(io_.socket, net::buffer(cont), use_tuple);
        if (ec) co_return false;
      }
      req.erase(http::field::expect);
    }
    // Read the first piece of the body before any backend sees the request: bad chunk framing
    // or an oversized body is caught here, and a body that fits is complete and replayable.
    auto [ec, got] = co_await read_body_piece(io_, p, relay_, snap.cfg->timeouts.idle);
    if (ec == http::error::body_limit) {
      co_await send_error(413, "the request body is larger than limits.max_body_bytes", false);
      co_return false;
    }
    if (ec == beast::error::timeout || ec == net::error::eof || ec == net::error::connection_reset)
      co_return false;
    if (ec) {
      co_await send_error(400, "malformed request body framing", false);
      co_return false;
    }
    prefetched = got;
  }

  upstream_exchange exchange(*this, exchange_request{p,
                                                     snap,
                                                     route->pool_index,
                                                     {request_id_, request_id_size_},
                                                     prefetched,
                                                     keep_alive,
                                                     req.version(),
                                                     upgrade});
  bool again = co_await exchange.run();

  const auto elapsed = std::chrono::steady_clock::now() - started;
  if (snap.metrics)
    snap.metrics->pool(route->pool_index)
        .count_response(exchange.status(), std::chrono::duration<double>(elapsed).count());
  if (auto* log = worker_.shared().requests_log) {
    access_record r;
    r.time = std::chrono::system_clock::now() -
             std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
    r.client = client_ip_;
    r.method = req.method_string();
    r.target = req.target();
    r.status = exchange.status();
    r.bytes_in = exchange.bytes_in();
    r.bytes_out = exchange.bytes_out();
    r.duration = elapsed;
    r.pool = route->pool_name;
    r.backend = exchange.backend_address();
    r.tries = exchange.tries();
    r.request_id = {request_id_, request_id_size_};
    log->write(r);
  }
  co_return again;
}

}  // namespace tally::proxy
