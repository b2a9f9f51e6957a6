#include "tally/cluster/gossip.hpp"

#include <atomic>
#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include "tally/cluster/peer_auth.hpp"
#include "tally/common/use_tuple.hpp"

namespace tally::cluster {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {
// Our peers answer with a short acknowledgement; anything larger is not a tally replica.
constexpr std::size_t max_response_body = std::size_t{64} * 1024;

// The "error" a refusing peer put in its JSON answer (a clock or token problem the operator of
// this replica has to fix), shortened for /status and the log; empty when there is none.
std::string error_in(std::string_view body) {
  error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* e = v.get_object().if_contains("error");
  if (!e || !e->is_string()) return {};
  std::string text(std::string_view(e->get_string()).substr(0, 300));
  for (auto& c : text)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return text;
}
}  // namespace

// The token in use, replaced on reload while exchanges run on the io_context.
struct gossip_client::credentials {
  explicit credentials(std::string t, system_ms_fn w) : token(std::move(t)), wall(std::move(w)) {}
  std::string current() const {
    std::lock_guard lock(mutex);
    return token;
  }
  void set(std::string t) {
    std::lock_guard lock(mutex);
    token = std::move(t);
  }
  mutable std::mutex mutex;
  std::string token;
  const system_ms_fn wall;
};

// One peer: its connection and statistics. Owned jointly by the client and the running exchange,
// so an exchange that outlives the client (shutdown) still touches valid memory.
struct gossip_client::channel : std::enable_shared_from_this<channel> {
  channel(net::io_context& ioc, config::peer_config p, std::shared_ptr<credentials> creds_,
          std::chrono::milliseconds timeout_, steady_clock_fn clock_, log_fn log_)
      : peer(std::move(p)),
        creds(std::move(creds_)),
        timeout(timeout_),
        clock(std::move(clock_)),
        log(std::move(log_)),
        stream(ioc),
        resolver(ioc) {}

  // Static so the coroutine frame owns `self` from creation, before it first runs.
  static net::awaitable<void> run(std::shared_ptr<channel> self,
                                  std::shared_ptr<const std::string> body) {
    error_code ec;
    unsigned status = co_await self->exchange(*body, ec);
    self->finish(ec, status);
    self->in_flight.store(false);
  }

  // Resolves the peer's host; numeric addresses skip the resolver. A name lookup is raced with a
  // timer because the resolver has no deadline of its own.
  net::awaitable<error_code> connect() {
    error_code ec;
    auto address = net::ip::make_address(peer.address.host, ec);
    if (!ec) {
      auto [cec] =
          co_await stream.async_connect(tcp::endpoint(address, peer.address.port), use_tuple);
      co_return cec;
    }
    net::steady_timer timer(stream.get_executor(), timeout);
    timer.async_wait([self = shared_from_this()](error_code tec) {
      if (!tec) self->resolver.cancel();
    });
    auto [rec, results] = co_await resolver.async_resolve(
        peer.address.host, std::to_string(peer.address.port), use_tuple);
    timer.cancel();
    if (rec) co_return rec;
    auto [cec, ep] = co_await stream.async_connect(results, use_tuple);
    co_return cec;
  }

  // Returns the HTTP status (0 when none arrived) and sets ec on transport errors.
  net::awaitable<unsigned> exchange(const std::string& body, error_code& ec) {
    // One deadline for the whole exchange: the stream's timer covers every operation started
    // until it is re-armed.
    stream.expires_after(timeout);
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = connected;
      if (!connected) {
        ec = co_await connect();
        if (ec) break;
        connected = true;
      }
      http::request<http::string_body> req{http::verb::post, "/cluster/votes", 11};
      req.set(http::field::host, peer.address.text);
      req.set(http::field::user_agent, "tally-cluster");
      req.set(http::field::content_type, "application/json");
      // Signed per attempt: a retry on a fresh connection gets a fresh timestamp.
      const std::string token = creds->current();
      if (!token.empty()) {
        req.set(http::field::authorization, "Bearer " + token);
        req.set(signature_header, sign_message(token, creds->wall(), body));
      }
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
      ec = wec;
      if (!ec) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_response_body);
        auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
        ec = rec;
        if (!ec) {
          const auto& res = parser.get();
          if (!res.keep_alive()) close();
          reply_error = res.result_int() == 200 ? std::string() : error_in(res.body());
          co_return res.result_int();
        }
      }
      close();
      // A kept-alive connection the peer closed while idle fails at once; try a fresh one. Any
      // other failure (or a fresh connection failing) ends the exchange.
      if (!reused || ec == beast::error::timeout || stopped.load()) break;
    }
    co_return 0;
  }

  void close() {
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    connected = false;
  }

  void finish(const error_code& ec, unsigned status) {
    // `kind` decides what is a change of state: the peer's explanation may carry numbers that
    // differ every round (how far ahead a clock is), which must not log a line per round.
    std::string kind, error;
    if (ec)
      kind = error = ec.message();
    else if (status != 200)
      kind = "HTTP " + std::to_string(status);
    if (!ec && status != 200) error = kind + (reply_error.empty() ? "" : ": " + reply_error);
    bool transition = false;
    {
      std::lock_guard lock(mutex);
      if (error.empty()) {
        transition = !last_error.empty() || successes == 0;
        last_success = clock();
        ++successes;
      } else {
        transition = last_kind != kind;
        ++failures;
      }
      last_error = error;
      last_kind = kind;
    }
    // One line per change of state, not one per round.
    if (transition && log) {
      if (error.empty())
        log("cluster: peer " + peer.id + " (" + peer.address.text + ") answers");
      else
        log("cluster: peer " + peer.id + " (" + peer.address.text + ") failed: " + error);
    }
  }

  const config::peer_config peer;
  const std::shared_ptr<credentials> creds;
  const std::chrono::milliseconds timeout;
  const steady_clock_fn clock;
  const log_fn log;

  // Used only by the exchange coroutine (one at a time, guarded by in_flight) and by close()
  // posted to the io_context.
  beast::tcp_stream stream;
  tcp::resolver resolver;
  beast::flat_buffer buffer;
  bool connected = false;
  std::string reply_error;  // why the peer refused the last request, when it said

  std::atomic<bool> in_flight{false};
  std::atomic<bool> stopped{false};
  mutable std::mutex mutex;  // guards the statistics below, read by peers() on any thread
  std::optional<steady_time> last_success;
  std::string last_error = "no exchange yet";
  std::string last_kind = "no exchange yet";
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::uint64_t skipped = 0;
};

gossip_client::gossip_client(net::io_context& ioc, const std::vector<config::peer_config>& peers,
                             std::string token, std::chrono::milliseconds timeout,
                             const steady_clock_fn& clock, const log_fn& log, system_ms_fn wall)
    : ioc_(ioc), credentials_(std::make_shared<credentials>(std::move(token), std::move(wall))) {
  for (const auto& p : peers)
    channels_.push_back(std::make_shared<channel>(ioc, p, credentials_, timeout, clock, log));
}

void gossip_client::set_token(std::string token) {
  credentials_->set(std::move(token));
}

gossip_client::~gossip_client() {
  // Only posting a close can throw (allocation), and a destructor must not: every channel is
  // marked stopped before any close is posted, so an exchange left open does not retry and ends
  // at its own deadline.
  try {
    stop();
  } catch (...) {
  }
}

void gossip_client::send_round(const std::shared_ptr<const std::string>& body) {
  if (stopped_) return;
  for (auto& ch : channels_) {
    if (ch->in_flight.exchange(true)) {
      std::lock_guard lock(ch->mutex);
      ++ch->skipped;
      continue;
    }
    net::co_spawn(ioc_, channel::run(ch, body), net::detached);
  }
}

void gossip_client::stop() {
  if (stopped_.exchange(true)) return;
  for (auto& ch : channels_)
    ch->stopped.store(true);
  for (auto& ch : channels_) {
    net::post(ioc_, [ch] {
      ch->resolver.cancel();
      ch->close();
    });
  }
}

std::vector<peer_snapshot> gossip_client::peers() const {
  std::vector<peer_snapshot> out;
  out.reserve(channels_.size());
  for (const auto& ch : channels_) {
    peer_snapshot s;
    s.id = ch->peer.id;
    s.address = ch->peer.address.text;
    s.in_flight = ch->in_flight.load();
    std::lock_guard lock(ch->mutex);
    s.last_success = ch->last_success;
    s.last_error = ch->last_error;
    s.successes = ch->successes;
    s.failures = ch->failures;
    s.skipped = ch->skipped;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tally::cluster
