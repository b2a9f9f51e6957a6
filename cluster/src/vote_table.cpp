#include "tally/cluster/vote_table.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

namespace tally::cluster {

namespace {
// Enough to refuse a replay from the last few restarts of a peer; bounded so a peer that restarts
// in a loop cannot grow the table.
constexpr std::size_t max_retired_incarnations = 16;
}  // namespace

vote_table::vote_table(std::string self, std::vector<std::string> peers,
                       std::chrono::milliseconds ttl, steady_clock_fn clock)
    : self_(std::move(self)), peers_(std::move(peers)), ttl_(ttl), clock_(std::move(clock)) {}

void vote_table::set_backends(const std::vector<std::pair<backend_key, bool>>& backends) {
  std::map<backend_key, backend_state> next;
  for (const auto& [key, initial] : backends) {
    auto it = backends_.find(key);
    if (it != backends_.end())
      next.emplace(key, std::move(it->second));
    else
      next.emplace(key, backend_state{initial, {}});
  }
  backends_ = std::move(next);
}

void vote_table::record_local(const backend_key& key, bool up, std::int64_t since_ms) {
  auto it = backends_.find(key);
  if (it == backends_.end()) return;
  it->second.votes[self_] = vote{up, since_ms, clock_()};
}

accept_result vote_table::accept(const sender_position& from, const std::vector<peer_vote>& votes) {
  return accept_from(from, nullptr, votes);
}

accept_result vote_table::accept(const sender_position& from, const hlc_timestamp& stamp,
                                 const std::vector<peer_vote>& votes) {
  return accept_from(from, &stamp, votes);
}

accept_result vote_table::accept_from(const sender_position& from, const hlc_timestamp* stamp,
                                      const std::vector<peer_vote>& votes) {
  if (from.node == self_ || std::find(peers_.begin(), peers_.end(), from.node) == peers_.end()) {
    ++ignored_unknown_node_;
    return accept_result::unknown_node;
  }
  const steady_time now = clock_();
  auto& pos = positions_[from.node];
  if (pos.seen) {
    if (from.incarnation == pos.incarnation) {
      if (from.seq <= pos.seq) {
        ++ignored_replayed_;
        return accept_result::replayed;
      }
    } else {
      if (std::find(pos.retired.begin(), pos.retired.end(), from.incarnation) !=
          pos.retired.end()) {
        ++ignored_replayed_;
        return accept_result::replayed;
      }
      const bool live = now - pos.last_accepted < ttl_;
      if (live && stamp && pos.last_stamp &&
          std::tie(stamp->physical_ms, stamp->logical) <=
              std::tie(pos.last_stamp->physical_ms, pos.last_stamp->logical)) {
        ++ignored_stale_incarnation_;
        return accept_result::stale_incarnation;
      }
      pos.retired.push_back(pos.incarnation);
      if (pos.retired.size() > max_retired_incarnations) pos.retired.pop_front();
    }
  }
  pos.seen = true;
  pos.incarnation = from.incarnation;
  pos.seq = from.seq;
  pos.last_accepted = now;
  if (stamp) pos.last_stamp = *stamp;

  for (const auto& v : votes) {
    auto it = backends_.find(v.key);
    if (it == backends_.end()) {
      ++ignored_unknown_backend_;
      continue;
    }
    it->second.votes[from.node] = vote{v.up, v.since_ms, now};
  }
  return accept_result::accepted;
}

std::vector<verdict_change> vote_table::compute() {
  const steady_time now = clock_();
  const std::size_t q = quorum();
  std::vector<verdict_change> changes;
  for (auto& [key, state] : backends_) {
    std::size_t up = 0, down = 0;
    for (const auto& [node, v] : state.votes) {
      if (!fresh(v, now)) continue;
      (v.up ? up : down)++;
    }
    bool next = state.verdict;
    if (down >= q)
      next = false;
    else if (up >= q)
      next = true;
    if (next != state.verdict) {
      state.verdict = next;
      changes.push_back({key, next});
    }
  }
  return changes;
}

std::optional<bool> vote_table::verdict(const backend_key& key) const {
  auto it = backends_.find(key);
  if (it == backends_.end()) return std::nullopt;
  return it->second.verdict;
}

std::vector<std::string> vote_table::node_order() const {
  std::vector<std::string> order{self_};
  order.insert(order.end(), peers_.begin(), peers_.end());
  return order;
}

std::optional<backend_votes> vote_table::details(const backend_key& key) const {
  auto it = backends_.find(key);
  if (it == backends_.end()) return std::nullopt;
  const steady_time now = clock_();
  backend_votes out;
  out.verdict = it->second.verdict;
  for (const auto& node : node_order()) {
    auto v = it->second.votes.find(node);
    if (v == it->second.votes.end()) continue;
    vote_detail d;
    d.node = node;
    d.up = v->second.up;
    d.since_ms = v->second.since_ms;
    d.age = std::chrono::duration_cast<std::chrono::milliseconds>(now - v->second.received);
    d.fresh = fresh(v->second, now);
    if (d.fresh) (d.up ? out.fresh_up : out.fresh_down)++;
    out.votes.push_back(std::move(d));
  }
  return out;
}

unsigned vote_table::votes_down(const backend_key& key) const {
  auto it = backends_.find(key);
  if (it == backends_.end()) return 0;
  const steady_time now = clock_();
  unsigned down = 0;
  for (const auto& [node, v] : it->second.votes)
    if (!v.up && fresh(v, now)) ++down;
  return down;
}

std::vector<backend_key> vote_table::keys() const {
  std::vector<backend_key> out;
  out.reserve(backends_.size());
  for (const auto& [key, state] : backends_)
    out.push_back(key);
  return out;
}

}  // namespace tally::cluster
