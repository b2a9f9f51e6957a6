#include "app/checkpoint_glue.hpp"

#include <chrono>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http.hpp>

#include "http/net_types.hpp"
#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/config/load.hpp"

namespace tally::proxy {

namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

cluster::checkpoint_config_table checkpoint_table_for(const routing_snapshot& snap) {
  cluster::checkpoint_config_table table;
  for (const auto& pool : snap.pools) {
    cluster::checkpoint_config_pool p{pool->name(), {}};
    for (const auto& b : pool->backends())
      p.addresses.push_back(b->address());
    table.pools.push_back(std::move(p));
  }
  return table;
}

void checkpoint_source::remember_since(const std::string& pool, const std::string& address, bool up,
                                       std::int64_t since_ms) {
  std::lock_guard lock(mutex_);
  since_[{pool, address}] = {up, since_ms};
}

cluster::checkpoint_state checkpoint_source::state() {
  auto snap = snapshots_.load();
  auto changes = cluster_.admin_changes();
  auto discovered = discovery_.sets();
  cluster::checkpoint_state s;
  s.node_id = cluster_.node_id();
  s.config_hash = snap->cfg->content_hash;
  const auto now = now_ms();
  std::lock_guard lock(mutex_);
  for (const auto& pool : snap->pools) {
    cluster::checkpoint_pool cp;
    cp.name = pool->name();
    for (const auto& b : pool->backends()) {
      cluster::checkpoint_backend cb;
      cb.address = b->address();
      cb.weight = b->weight();
      cb.drained = b->drained();
      cb.verdict_up = b->up();
      auto& since = since_[{pool->name(), b->address()}];
      if (since.second == 0 || since.first != cb.verdict_up) since = {cb.verdict_up, now};
      cb.verdict_since_ms = since.second;
      // The newest admin change of either field stamps the entry.
      for (const auto& c : changes) {
        if (c.key.pool != pool->name() || c.key.backend != b->address()) continue;
        if (!cb.admin_hlc || std::tie(c.stamp.physical_ms, c.stamp.logical) >
                                 std::tie(cb.admin_hlc->physical_ms, cb.admin_hlc->logical)) {
          cb.admin_hlc = cluster::checkpoint_admin_stamp{
              static_cast<std::uint64_t>(c.stamp.physical_ms), c.stamp.logical, c.stamp.node};
        }
        const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.stamp.physical_ms));
        if (ms > s.hlc.physical_ms) s.hlc.physical_ms = ms;
      }
      cp.backends.push_back(std::move(cb));
    }
    if (auto found = discovered.find(pool->name()); found != discovered.end()) {
      cluster::checkpoint_discovery d{found->second.source, found->second.revision, {}};
      for (const auto& b : found->second.backends)
        d.backends.push_back({b.address.text, b.weight});
      cp.discovery = std::move(d);
    }
    s.pools.push_back(std::move(cp));
  }
  return s;
}

std::size_t restore_discovered(const cluster::checkpoint_state& saved, const config::config& cfg,
                               discovery_sources& discovery) {
  std::size_t restored = 0;
  for (const auto& pool : cfg.pools) {
    if (!pool.discovery) continue;
    const std::string kind = pool.discovery->etcd ? "etcd" : "dns";
    for (const auto& sp : saved.pools) {
      if (sp.name != pool.name || !sp.discovery || sp.discovery->source != kind) continue;
      discovered_pool set{kind, sp.discovery->revision, saved.written_at_ms, {}};
      for (const auto& b : sp.discovery->backends)
        if (auto address = config::parse_host_port(b.address))  // decode checked it already
          set.backends.push_back({std::move(*address), b.weight, {}});
      discovery.restore(pool.name, std::move(set));
      ++restored;
      break;
    }
  }
  return restored;
}

std::size_t apply_checkpoint(const cluster::checkpoint_restore_result& restored,
                             const routing_snapshot& snap, cluster::cluster_node& cluster,
                             checkpoint_source& source) {
  std::size_t applied = 0;
  std::vector<cluster::admin_change> changes;
  for (const auto& pool : snap.pools) {
    for (const auto& b : pool->backends()) {
      const auto* saved = restored.find(pool->name(), b->address());
      if (!saved) continue;
      b->set_drained(saved->drained);
      b->set_weight(saved->weight);
      b->set_up(saved->verdict_up);
      b->set_local_up(saved->verdict_up);
      source.remember_since(pool->name(), b->address(), saved->verdict_up, saved->verdict_since_ms);
      if (saved->admin_hlc) {
        cluster::hlc_timestamp stamp{static_cast<std::int64_t>(saved->admin_hlc->physical_ms),
                                     saved->admin_hlc->logical, saved->admin_hlc->node};
        changes.push_back({{pool->name(), b->address()},
                           cluster::change_field::drained,
                           saved->drained ? 1u : 0u,
                           stamp});
        changes.push_back(
            {{pool->name(), b->address()}, cluster::change_field::weight, saved->weight, stamp});
      }
      ++applied;
    }
  }
  if (!changes.empty()) cluster.restore_admin_changes(changes);
  return applied;
}

namespace {

// One peer's checkpoint, or an error; every step has a deadline, so a peer that accepts and
// never answers (or drips bytes) costs seconds, not a hang.
net::awaitable<std::optional<std::string>> fetch_one(const config::peer_config& peer,
                                                     const std::string& token, std::string& error) {
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  beast::tcp_stream stream(ex);
  stream.expires_after(std::chrono::seconds(2));
  auto [rec, results] = co_await resolver.async_resolve(
      peer.address.host, std::to_string(peer.address.port), use_tuple);
  if (!rec) std::tie(rec, std::ignore) = co_await stream.async_connect(results, use_tuple);
  if (rec) {
    error = rec == beast::error::timeout ? "connect timed out" : rec.message();
    co_return std::nullopt;
  }
  http::request<http::empty_body> req{http::verb::get, "/cluster/checkpoint", 11};
  req.set(http::field::host, peer.address.text);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(cluster::max_checkpoint_bytes);
  // One deadline for the request and the whole answer.
  stream.expires_after(std::chrono::seconds(3));
  auto [wec, w] = co_await http::async_write(stream, req, use_tuple);
  error_code ec = wec;
  if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (ec) {
    error = ec == beast::error::timeout ? "no answer within 3 s" : ec.message();
    co_return std::nullopt;
  }
  if (parser.get().result_int() != 200) {
    error = "status " + std::to_string(parser.get().result_int());
    co_return std::nullopt;
  }
  co_return parser.release().body();
}

}  // namespace

std::optional<std::string> fetch_peer_checkpoint(const config::cluster_config& cluster,
                                                 const std::string& token, std::string& errors) {
  // Runs at start-up, before anything is served, on a private loop of its own.
  net::io_context ioc;
  std::optional<std::string> found;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        for (const auto& peer : cluster.peers) {
          std::string error;
          found = co_await fetch_one(peer, token, error);
          if (found) co_return;
          errors += peer.id + ": " + error + "; ";
        }
      },
      net::detached);
  // The stream's deadlines bound connect, write and read; name resolution has none of its own,
  // so the whole fetch is bounded too (2 s + 3 s per peer, and a second of slack).
  const auto budget = std::chrono::seconds(6) * static_cast<long>(cluster.peers.size());
  ioc.run_for(budget);
  if (!ioc.stopped()) {
    errors += "gave up after " + std::to_string(budget.count()) + " s; ";
    return std::nullopt;
  }
  return found;
}

}  // namespace tally::proxy
