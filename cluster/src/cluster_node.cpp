#include "tally/cluster/cluster_node.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "tally/cluster/hlc.hpp"
#include "tally/cluster/message.hpp"
#include "tally/cluster/peer_auth.hpp"
#include "tally/cluster/vote_table.hpp"
#include "tally/common/use_tuple.hpp"

namespace tally::cluster {

namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

std::uint64_t random_incarnation() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return v ? v : 1;
}

std::vector<std::string> peer_ids(const std::optional<config::cluster_config>& c) {
  std::vector<std::string> ids;
  if (c)
    for (const auto& p : c->peers)
      ids.push_back(p.id);
  return ids;
}

milliseconds age(steady_time now, steady_time then) {
  return std::chrono::duration_cast<milliseconds>(now - then);
}

std::string quoted_id(const std::string& id) {
  return "\"" + id + "\"";
}

std::string describe(const backend_key& k) {
  return "pool " + k.pool + " backend " + k.backend;
}

enum class rejection : std::size_t {
  malformed,
  bad_signature,
  clock_offset,
  replay,
  stale_incarnation,
  unknown_node
};
constexpr std::size_t rejection_kinds = 6;

// A peer (or anyone who can reach the admin port) may send many refused messages a second; the
// operator needs one line that says why, not a flood.
constexpr milliseconds rejection_log_interval{10000};

}  // namespace

struct cluster_node::state {
  state(net::io_context& ioc_, std::optional<config::cluster_config> cfg, std::string token_,
        node_options opts)
      : ioc(ioc_),
        node_id(cfg ? cfg->node_id : std::string("self")),
        interval(cfg ? cfg->gossip_interval : config::cluster_config{}.gossip_interval),
        ttl(cfg ? cfg->vote_ttl : config::cluster_config{}.vote_ttl),
        max_offset(cfg ? cfg->max_clock_offset : default_max_clock_offset),
        options(std::move(opts)),
        incarnation(options.incarnation ? options.incarnation : random_incarnation()),
        token(std::move(token_)),
        clock(node_id, options.system_ms, max_offset),
        table(node_id, peer_ids(cfg), ttl, options.steady_now),
        changes(clock),
        timer(ioc) {
    if (cfg && !cfg->peers.empty()) {
      // A request may not outlive its round, and a second is plenty on any sane network.
      const auto timeout = std::min<milliseconds>(interval, milliseconds(1000));
      gossip = std::make_unique<gossip_client>(ioc, cfg->peers, token, timeout, options.steady_now,
                                               options.log, options.system_ms);
    }
  }

  struct local_backend {
    std::shared_ptr<balancer::backend> backend;
    bool last_local = true;
    std::int64_t since_ms = 0;  // when last_local last changed (wall clock, for display)
  };

  static net::awaitable<void> loop(std::shared_ptr<state> s) {
    while (!s->stopped.load()) {
      s->round();
      s->timer.expires_after(s->interval);
      co_await s->timer.async_wait(use_tuple);
    }
  }

  void round() {
    std::vector<std::string> lines;
    std::shared_ptr<const std::string> body;
    {
      std::lock_guard lock(mutex);
      const std::int64_t now_ms = options.system_ms();
      for (auto& [key, local] : backends) {
        const bool up = local.backend->local_up();
        if (up != local.last_local) {
          local.last_local = up;
          local.since_ms = now_ms;
        }
        table.record_local(key, up, local.since_ms);
      }
      apply_verdicts(lines);
      ++seq;
      ++counters.rounds;
      if (gossip) body = std::make_shared<const std::string>(encode(current_message()));
    }
    emit(lines);
    if (body && !stopped.load()) gossip->send_round(body);
  }

  // Requires mutex.
  votes_message current_message() {
    votes_message m;
    m.from = {node_id, incarnation, seq};
    m.hlc = clock.now();
    m.votes.reserve(backends.size());
    for (const auto& [key, local] : backends)
      m.votes.push_back({key, local.last_local, local.since_ms});
    m.changes = changes.all();
    return m;
  }

  // Requires mutex.
  void apply_verdicts(std::vector<std::string>& lines) {
    for (const auto& change : table.compute()) {
      auto it = backends.find(change.key);
      if (it == backends.end()) continue;
      it->second.backend->set_up(change.up);
      ++counters.verdict_changes;
      lines.push_back(
          "cluster: " + describe(change.key) + " verdict " + (change.up ? "UP" : "DOWN") + " (" +
          std::to_string(table.votes_down(change.key)) + " fresh down votes of " +
          std::to_string(table.nodes()) + " nodes, quorum " + std::to_string(table.quorum()) + ")");
    }
  }

  // Requires mutex.
  void apply_change(const admin_change& c) {
    auto it = backends.find(c.key);
    if (it == backends.end()) return;
    if (c.field == change_field::drained)
      it->second.backend->set_drained(c.value != 0);
    else
      it->second.backend->set_weight(c.value);
  }

  // Requires mutex. Applies the records among `remote` that win; returns log lines for them.
  void merge_changes(const std::vector<admin_change>& remote, std::vector<std::string>& lines) {
    std::vector<admin_change> known;
    for (const auto& c : remote) {
      if (backends.contains(c.key))
        known.push_back(c);
      else
        ++counters.changes_unknown_backend;
    }
    for (const auto& c : changes.merge(known)) {
      apply_change(c);
      lines.push_back("cluster: " + describe(c.key) + " " +
                      (c.field == change_field::drained
                           ? std::string("drained=") + (c.value ? "true" : "false")
                           : "weight=" + std::to_string(c.value)) +
                      " from " + c.stamp.node);
    }
  }

  // Requires mutex.
  json::object votes_json(const backend_key& key, const local_backend& local) const {
    auto d = table.details(key);
    json::object b{{"pool", key.pool},
                   {"backend", key.backend},
                   {"local_up", local.last_local},
                   {"verdict", d && d->verdict ? "up" : "down"},
                   {"votes_up", d ? d->fresh_up : 0},
                   {"votes_down", d ? d->fresh_down : 0}};
    json::array votes;
    if (d)
      for (const auto& v : d->votes)
        votes.push_back(json::object{{"node", v.node},
                                     {"up", v.up},
                                     {"since_ms", v.since_ms},
                                     {"age_ms", v.age.count()},
                                     {"fresh", v.fresh}});
    b["votes"] = std::move(votes);
    return b;
  }

  // Requires mutex. Counts a refused message; returns the line to log, if one is due.
  std::optional<std::string> refuse(rejection why, const std::string& what) {
    switch (why) {
      case rejection::malformed:
        ++counters.messages_malformed;
        break;
      case rejection::bad_signature:
        ++counters.messages_bad_signature;
        break;
      case rejection::clock_offset:
        ++counters.messages_clock_offset;
        break;
      case rejection::replay:
        ++counters.messages_replayed;
        break;
      case rejection::stale_incarnation:
        ++counters.messages_stale_incarnation;
        break;
      case rejection::unknown_node:
        ++counters.messages_unknown_node;
        break;
    }
    auto& slot = rejection_log[static_cast<std::size_t>(why)];
    const auto now = options.steady_now();
    if (slot.logged && now - slot.last < rejection_log_interval) {
      ++slot.suppressed;
      return std::nullopt;
    }
    std::string line = "cluster: refused a peer message: " + what;
    if (slot.suppressed)
      line += " (" + std::to_string(slot.suppressed) + " more like it since the last line)";
    slot = {true, now, 0};
    return line;
  }

  void emit(const std::vector<std::string>& lines) const {
    if (!options.log) return;
    for (const auto& line : lines)
      options.log(line);
  }

  net::io_context& ioc;
  const std::string node_id;
  const milliseconds interval;
  const milliseconds ttl;
  const milliseconds max_offset;
  const node_options options;
  const std::uint64_t incarnation;

  mutable std::mutex mutex;  // guards everything below except timer, gossip and the flags
  std::string token;         // signs nothing itself (gossip has its copy); verifies
  struct log_slot {
    bool logged = false;
    steady_time last{};
    std::uint64_t suppressed = 0;
  };
  std::array<log_slot, rejection_kinds> rejection_log{};
  hybrid_clock clock;
  vote_table table;
  admin_change_set changes;
  std::map<backend_key, local_backend> backends;
  std::map<std::string, steady_time> heard;  // last accepted message per peer
  std::uint64_t seq = 0;
  cluster_counters counters;

  net::steady_timer timer;  // used on the io_context only
  std::unique_ptr<gossip_client> gossip;
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
};

std::array<rejection_count, 6> rejected_by_reason(const cluster_counters& c) noexcept {
  return {{{"malformed", c.messages_malformed},
           {"bad_signature", c.messages_bad_signature},
           {"clock_offset", c.messages_clock_offset},
           {"replay", c.messages_replayed},
           {"stale_incarnation", c.messages_stale_incarnation},
           {"unknown_node", c.messages_unknown_node}}};
}

cluster_node::cluster_node(net::io_context& ioc, std::optional<config::cluster_config> cluster,
                           const std::string& token, node_options options)
    : state_(std::make_shared<state>(ioc, std::move(cluster), token, std::move(options))) {}

cluster_node::~cluster_node() {
  // Only posting can throw (allocation), and a destructor must not: `stopped` is set first, so
  // the round loop ends at its next wake-up and the gossip client's exchanges at their deadlines.
  try {
    stop();
  } catch (...) {
  }
}

void cluster_node::set_backends(const std::vector<pool_backend>& list) {
  auto& s = *state_;
  std::lock_guard lock(s.mutex);
  const std::int64_t now_ms = s.options.system_ms();
  std::map<backend_key, state::local_backend> next;
  std::vector<std::pair<backend_key, bool>> table_keys;
  std::vector<backend_key> keys;
  for (const auto& pb : list) {
    backend_key key{pb.pool, pb.backend->address()};
    auto old = s.backends.find(key);
    state::local_backend local{pb.backend, pb.backend->local_up(), now_ms};
    if (old != s.backends.end()) {
      local.last_local = old->second.last_local;
      local.since_ms = old->second.since_ms;
    }
    // A remaining backend keeps its verdict (the table holds it); a new one starts from up().
    table_keys.emplace_back(key, pb.backend->up());
    keys.push_back(key);
    next.insert_or_assign(key, std::move(local));
  }
  s.backends = std::move(next);
  s.table.set_backends(table_keys);
  s.changes.retain(keys);
  for (const auto& [key, local] : s.backends) {
    if (auto v = s.table.verdict(key)) local.backend->set_up(*v);
    for (const auto& c : s.changes.for_backend(key))
      s.apply_change(c);
  }
}

void cluster_node::start() {
  if (state_->started.exchange(true)) return;
  net::co_spawn(state_->ioc, state::loop(state_), net::detached);
}

void cluster_node::stop() {
  auto& s = *state_;
  if (s.stopped.exchange(true)) return;
  if (s.gossip) s.gossip->stop();
  // The timer belongs to the io_context's thread; wake the loop there so it sees `stopped`.
  net::post(s.ioc, [st = state_] { st->timer.cancel(); });
}

void cluster_node::run_round() {
  state_->round();
}

namespace {

votes_reply refusal(unsigned status, const std::string& node, std::string_view reason,
                    const std::string& error) {
  json::object o{{"node", node}, {"accepted", false}, {"reason", reason}, {"error", error}};
  return {status, json::serialize(o)};
}

std::string ms_text(milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

}  // namespace

votes_reply cluster_node::handle_votes(std::string_view body, std::string_view signature) {
  return handle(body, &signature);
}

// One function from bytes to verdict so every refusal path is visible in order; splitting it
// would pass the refusal bookkeeping (lines, lock, counters) between several helpers.
// NOLINTNEXTLINE(readability-function-size)
votes_reply cluster_node::handle(std::string_view body, const std::string_view* signature) {
  auto& s = *state_;
  std::vector<std::string> lines;
  auto refuse = [&](rejection why, unsigned status, std::string_view reason,
                    const std::string& what) {
    {
      std::lock_guard lock(s.mutex);
      if (auto line = s.refuse(why, what)) lines.push_back(std::move(*line));
    }
    s.emit(lines);
    return refusal(status, s.node_id, reason, what);
  };

  std::string token;
  if (signature) {
    std::lock_guard lock(s.mutex);
    token = s.token;
  }
  if (!token.empty()) {
    // A message older than the vote ttl carries only stale votes anyway, so the window costs
    // nothing legitimate; within it, (incarnation, seq) refuses a copy.
    const auto check = verify_message(token, *signature, body, s.options.system_ms(),
                                      s.ttl + s.max_offset, s.max_offset);
    switch (check.status) {
      case signature_status::ok:
        break;
      case signature_status::too_new:
        return refuse(rejection::clock_offset, 409, "clock_offset",
                      std::string(describe(check.status)) + " (by more than max_clock_offset " +
                          ms_text(s.max_offset) +
                          "): fix the sender's clock (NTP) or raise cluster.max_clock_offset");
      case signature_status::too_old:
        return refuse(rejection::replay, 409, "replay",
                      std::string(describe(check.status)) + " (older than vote_ttl + " +
                          "max_clock_offset, " + ms_text(s.ttl + s.max_offset) +
                          "): check the sender's clock");
      default:
        return refuse(
            rejection::bad_signature, 401, "bad_signature",
            std::string(describe(check.status)) + ": give every replica the same admin token");
    }
  }

  auto decoded = decode_votes_message(body);
  if (!decoded.message) {
    {
      std::lock_guard lock(s.mutex);
      s.refuse(rejection::malformed, decoded.error);  // the sender sees the 400; no log line
    }
    return {400, json::serialize(json::object{{"error", decoded.error}})};
  }
  const auto& m = *decoded.message;
  accept_result result;
  std::uint64_t refused_changes = 0;
  std::optional<std::string> too_far_ahead;
  {
    std::lock_guard lock(s.mutex);
    if (!s.clock.within_offset(m.hlc))
      too_far_ahead = "node " + m.from.node + " stamped its message " +
                      ms_text(s.clock.ahead_by(m.hlc)) +
                      " ahead of this replica's clock (max_clock_offset " + ms_text(s.max_offset) +
                      "): fix that replica's clock (NTP)";
  }
  if (too_far_ahead) return refuse(rejection::clock_offset, 409, "clock_offset", *too_far_ahead);
  {
    std::lock_guard lock(s.mutex);
    result = s.table.accept(m.from, m.hlc, m.votes);
    if (result == accept_result::accepted) {
      ++s.counters.messages_accepted;
      s.heard[m.from.node] = s.options.steady_now();
      s.clock.update(m.hlc);
      const auto before = s.changes.refused_ahead();
      s.merge_changes(m.changes, lines);
      refused_changes = s.changes.refused_ahead() - before;
      s.counters.changes_clock_offset += refused_changes;
      s.apply_verdicts(lines);
    } else if (result == accept_result::replayed) {
      // Duplicates are routine (a retried POST); counted, not logged.
      ++s.counters.messages_replayed;
    } else if (result == accept_result::stale_incarnation) {
      if (auto line = s.refuse(rejection::stale_incarnation,
                               "node " + m.from.node +
                                   " sent a new incarnation stamped no later than its live one; "
                                   "kept the live one (a restarted replica is accepted once its "
                                   "clock passes, or after vote_ttl of silence)"))
        lines.push_back(std::move(*line));
    } else {
      if (auto line = s.refuse(rejection::unknown_node,
                               "node " + quoted_id(m.from.node) +
                                   " is not in cluster.peers: add it there or fix its node_id"))
        lines.push_back(std::move(*line));
    }
  }
  if (refused_changes)
    lines.push_back("cluster: refused " + std::to_string(refused_changes) +
                    " admin changes from node " + m.from.node + " stamped more than " +
                    ms_text(s.max_offset) + " ahead of this replica's clock");
  s.emit(lines);
  json::object reply{{"node", s.node_id}, {"accepted", result == accept_result::accepted}};
  if (result == accept_result::replayed) reply["reason"] = "replayed or old message";
  if (result == accept_result::unknown_node) reply["reason"] = "unknown node";
  if (result == accept_result::stale_incarnation) reply["reason"] = "stale incarnation";
  return {200, json::serialize(reply)};
}

void cluster_node::set_token(std::string token) {
  auto& s = *state_;
  if (s.gossip) s.gossip->set_token(token);
  std::lock_guard lock(s.mutex);
  s.token = std::move(token);
}

bool cluster_node::apply_admin_change(std::string_view pool, std::string_view backend,
                                      admin_mutation m) {
  auto& s = *state_;
  backend_key key{std::string(pool), std::string(backend)};
  {
    std::lock_guard lock(s.mutex);
    if (!s.backends.contains(key)) return false;
    s.apply_change(s.changes.local_change(key, m.field, m.value));
  }
  // Send it now instead of waiting up to a gossip interval.
  if (s.started.load() && !s.stopped.load()) s.round();
  return true;
}

json::value cluster_node::backend_votes_json(std::string_view pool,
                                             std::string_view backend) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->backends.find({std::string(pool), std::string(backend)});
  if (it == state_->backends.end()) return nullptr;
  return state_->votes_json(it->first, it->second);
}

unsigned cluster_node::votes_down(std::string_view pool, std::string_view backend) const {
  std::lock_guard lock(state_->mutex);
  return state_->table.votes_down({std::string(pool), std::string(backend)});
}

std::vector<peer_status> cluster_node::peers() const {
  auto& s = *state_;
  std::vector<peer_status> out;
  if (!s.gossip) return out;
  const auto now = s.options.steady_now();
  for (const auto& p : s.gossip->peers()) {
    peer_status ps;
    ps.id = p.id;
    ps.address = p.address;
    if (p.last_success) {
      ps.since_success = age(now, *p.last_success);
      ps.up = *ps.since_success < s.ttl;
    }
    ps.last_error = p.last_error;
    ps.in_flight = p.in_flight;
    out.push_back(std::move(ps));
  }
  std::lock_guard lock(s.mutex);
  for (auto& ps : out) {
    auto it = s.heard.find(ps.id);
    if (it != s.heard.end()) ps.since_heard = age(now, it->second);
  }
  return out;
}

cluster_counters cluster_node::counters() const {
  std::lock_guard lock(state_->mutex);
  cluster_counters c = state_->counters;
  c.votes_unknown_backend = state_->table.ignored_unknown_backend();
  return c;
}

const std::string& cluster_node::node_id() const noexcept {
  return state_->node_id;
}

std::uint64_t cluster_node::incarnation() const noexcept {
  return state_->incarnation;
}

std::vector<admin_change> cluster_node::admin_changes() const {
  std::lock_guard lock(state_->mutex);
  return state_->changes.all();
}

void cluster_node::restore_admin_changes(const std::vector<admin_change>& changes) {
  std::vector<std::string> lines;
  std::uint64_t refused = 0;
  {
    std::lock_guard lock(state_->mutex);
    const auto before = state_->changes.refused_ahead();
    state_->merge_changes(changes, lines);
    refused = state_->changes.refused_ahead() - before;
    state_->counters.changes_clock_offset += refused;
  }
  // Restoring is not news for the operator log (the checkpoint reports it); a refusal is.
  if (refused)
    state_->emit({"cluster: refused " + std::to_string(refused) +
                  " restored admin changes stamped more than " + ms_text(state_->max_offset) +
                  " ahead of this replica's clock"});
}

json::object cluster_node::status_json() const {
  const auto c = counters();
  auto& s = *state_;
  json::object out;
  std::lock_guard lock(s.mutex);
  out["node_id"] = s.node_id;
  char inc[17];
  std::snprintf(inc, sizeof inc, "%016llx", static_cast<unsigned long long>(s.incarnation));
  out["incarnation"] = inc;
  out["seq"] = s.seq;
  out["nodes"] = s.table.nodes();
  out["quorum"] = s.table.quorum();
  out["gossip_interval_ms"] = s.interval.count();
  out["vote_ttl_ms"] = s.ttl.count();
  out["max_clock_offset_ms"] = s.max_offset.count();
  out["authenticated"] = !s.token.empty();  // whether peers must sign; never the token itself
  out["hlc"] = to_json(s.clock.current());

  json::array backends;
  for (const auto& [key, local] : s.backends)
    backends.push_back(s.votes_json(key, local));
  out["backends"] = std::move(backends);

  json::array changes;
  for (const auto& ch : s.changes.all())
    changes.push_back(to_json(ch));
  out["admin_changes"] = std::move(changes);

  out["counters"] = json::object{{"rounds", c.rounds},
                                 {"messages_accepted", c.messages_accepted},
                                 {"messages_malformed", c.messages_malformed},
                                 {"messages_replayed", c.messages_replayed},
                                 {"messages_unknown_node", c.messages_unknown_node},
                                 {"messages_bad_signature", c.messages_bad_signature},
                                 {"messages_clock_offset", c.messages_clock_offset},
                                 {"messages_stale_incarnation", c.messages_stale_incarnation},
                                 {"changes_clock_offset", c.changes_clock_offset},
                                 {"votes_unknown_backend", c.votes_unknown_backend},
                                 {"changes_unknown_backend", c.changes_unknown_backend},
                                 {"verdict_changes", c.verdict_changes}};
  return out;
}

}  // namespace tally::cluster
