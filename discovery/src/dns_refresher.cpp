#include "tally/discovery/dns_refresher.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tally/common/use_tuple.hpp"

namespace tally::discovery {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// The system resolver, bounded by `timeout`: the timer cancels the lookup, which then completes
// with operation_aborted (getaddrinfo itself finishes on Asio's thread and is discarded).
net::awaitable<lookup_result> system_lookup(std::string host, std::uint16_t port,
                                            std::chrono::milliseconds timeout) {
  auto ex = co_await net::this_coro::executor;
  // Shared with the deadline's handler, which may run after this frame has ended.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  net::steady_timer deadline(ex);
  deadline.expires_after(timeout);
  deadline.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](error_code ec) {
    if (auto r = weak.lock(); r && !ec) r->cancel();
  });
  auto [ec, results] = co_await resolver->async_resolve(host, std::to_string(port), use_tuple);
  deadline.cancel();
  lookup_result r;
  r.error = ec == net::error::operation_aborted ? net::error::timed_out : ec;
  if (!ec)
    for (const auto& e : results)
      r.addresses.push_back(e.endpoint().address());
  if (!ec && r.addresses.empty()) r.error = net::error::host_not_found;
  co_return r;
}

bool same(const discovered_set& a, const discovered_set& b) {
  if (a.backends.size() != b.backends.size()) return false;
  for (std::size_t i = 0; i < a.backends.size(); ++i)
    if (a.backends[i].address.text != b.backends[i].address.text ||
        a.backends[i].weight != b.backends[i].weight)
      return false;
  return true;
}

}  // namespace

std::string address_text(const net::ip::address& address, std::uint16_t port) {
  auto ip = address.to_string();
  return (address.is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

struct dns_refresher::state : std::enable_shared_from_this<state> {
  state(net::any_io_executor ex, dns_refresher_options o)
      : executor(std::move(ex)), options(std::move(o)), timer(executor) {}

  net::any_io_executor executor;
  dns_refresher_options options;
  net::steady_timer timer;
  bool stopped = false;
  bool started = false;
  std::map<std::string, std::vector<net::ip::address>> last_good;  // by configured address
  std::optional<discovered_set> published;

  net::awaitable<void> run();
  net::awaitable<void> refresh_once();
};

net::awaitable<void> dns_refresher::state::refresh_once() {
  discovered_set set;
  std::set<std::string> seen;
  auto add = [&](const net::ip::address& ip, const config::backend_config& b) {
    auto text = address_text(ip, b.address.port);
    if (!seen.insert(text).second) return;
    set.backends.push_back({config::host_port{ip.to_string(), b.address.port, text}, b.weight, {}});
  };
  for (const auto& b : options.backends) {
    error_code ec;
    net::ip::make_address(b.address.host, ec);  // an IP literal needs no lookup
    if (!ec) {
      set.backends.push_back({b.address, b.weight, {}});
      seen.insert(b.address.text);
      continue;
    }
    // Not a conditional expression: GCC 12 destroys a co_await's result twice inside ?:.
    lookup_result result;
    if (options.lookup)
      result = co_await options.lookup(b.address.host, b.address.port);
    else
      result = co_await system_lookup(b.address.host, b.address.port, options.lookup_timeout);
    if (stopped) co_return;
    if (result.error || result.addresses.empty()) {
      auto& kept = last_good[b.address.text];
      if (options.log)
        options.log("discovery: cannot resolve " + b.address.text + " (" +
                    (result.error ? result.error.message() : "no addresses") + "); keeping its " +
                    std::to_string(kept.size()) + " last known addresses");
      if (options.on_result) options.on_result(false);
    } else {
      // Servers rotate the order of their answers; only a different set is a change.
      std::sort(result.addresses.begin(), result.addresses.end());
      last_good[b.address.text] = std::move(result.addresses);
    }
    for (const auto& ip : last_good[b.address.text])
      add(ip, b);
  }
  if (published && same(*published, set)) co_return;
  published = set;
  if (options.on_result) options.on_result(true);
  if (options.on_update) options.on_update(set);
}

net::awaitable<void> dns_refresher::state::run() {
  auto self = shared_from_this();
  while (!stopped) {
    co_await refresh_once();
    if (stopped) co_return;
    timer.expires_after(options.refresh);
    co_await timer.async_wait(use_tuple);
  }
}

dns_refresher::dns_refresher(net::any_io_executor executor, dns_refresher_options options)
    : state_(std::make_shared<state>(std::move(executor), std::move(options))) {}

dns_refresher::~dns_refresher() {
  // cancel() throws only when the reactor itself failed; a destructor has nobody to tell.
  try {
    stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch)
  }
}

void dns_refresher::start() {
  if (state_->started) return;
  state_->started = true;
  net::co_spawn(state_->executor, state_->run(), net::detached);
}

void dns_refresher::stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

}  // namespace tally::discovery
