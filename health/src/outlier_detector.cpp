#include "tally/health/outlier_detector.hpp"

#include <algorithm>

namespace tally::health {

namespace {

using std::chrono::milliseconds;

std::string describe(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::int64_t to_ns(outlier_detector::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

outlier_detector::outlier_detector(log_fn log, outlier_options options)
    : log_(std::move(log)), options_(options) {}

milliseconds outlier_detector::ejection_for(milliseconds base, unsigned level,
                                            milliseconds max_ejection) {
  const milliseconds cap = std::max(base, max_ejection);
  milliseconds d = base;
  // Doubling stops at the cap, so no shift can overflow however often a backend is ejected.
  for (unsigned i = 1; i < level && d < cap; ++i)
    d *= 2;
  return std::min(d, cap);
}

void outlier_detector::record(const balancer::pool& pool, std::size_t index, outcome o,
                              time_point now) {
  const config::pool_config& cfg = pool.config();
  if (!cfg.outlier_configured || index >= pool.backends().size()) return;
  const std::shared_ptr<balancer::backend>& b = pool.backends()[index];
  if (o == outcome::success) {
    b->record_success();
    return;
  }
  // Requests still in flight to an ejected backend do not lengthen its ejection.
  if (b->ejected()) return;
  const std::uint32_t failures = b->record_failure();
  if (failures < std::max(1u, cfg.outlier.consecutive_failures)) return;

  time_point until{};
  std::string line;
  {
    std::lock_guard lock(mutex_);
    line = try_eject(pool, b, failures, now, until);
  }
  if (!line.empty() && log_) log_(line);
  if (until != time_point{} && on_ejection_) on_ejection_(until);
}

std::string outlier_detector::try_eject(const balancer::pool& pool,
                                        const std::shared_ptr<balancer::backend>& b,
                                        std::uint32_t failures, time_point now, time_point& until) {
  const config::pool_config& cfg = pool.config();
  // Another worker may have ejected it between our check and the lock.
  if (b->ejected()) return {};

  const std::size_t size = pool.backends().size();
  const std::size_t cap = size * std::min(cfg.outlier.max_ejected_percent, 100u) / 100;
  const auto already = static_cast<std::size_t>(std::count_if(
      pool.backends().begin(), pool.backends().end(), [](const auto& x) { return x->ejected(); }));
  const std::string who = "outlier: pool " + cfg.name + " backend " + b->address();
  if (already >= cap) {
    // Logged once per failure streak (at the threshold), not on every further failure.
    if (failures != cfg.outlier.consecutive_failures) return {};
    return who + " not ejected after " + std::to_string(failures) +
           " consecutive failures: " + std::to_string(already) + " of " + std::to_string(size) +
           " backends already ejected (max_ejected_percent " +
           std::to_string(cfg.outlier.max_ejected_percent) + ")";
  }

  const milliseconds base = std::max(cfg.outlier.ejection, milliseconds{1});
  history& h = history_[b->id()];
  if (h.level > 0 && now > h.last_until) {
    const auto drop = static_cast<unsigned long long>((now - h.last_until) / base);
    h.level = drop >= h.level ? 0 : h.level - static_cast<unsigned>(drop);
  }
  ++h.level;
  const milliseconds length = ejection_for(base, h.level, options_.max_ejection);
  until = now + length;
  h.last_until = until;
  h.base = base;

  b->set_ejected_until_ns(to_ns(until));
  b->set_ejected(true);
  ejected_.push_back({b, cfg.name, until});
  return who + " ejected for " + describe(length) + " after " + std::to_string(failures) +
         " consecutive failures (ejection " + std::to_string(h.level) + ")";
}

void outlier_detector::tick(time_point now) {
  std::vector<std::string> lines;
  {
    std::lock_guard lock(mutex_);
    auto returned = std::stable_partition(ejected_.begin(), ejected_.end(),
                                          [now](const ejection& e) { return e.until > now; });
    for (auto it = returned; it != ejected_.end(); ++it) {
      balancer::backend& b = *it->backend;
      b.record_success();  // a fresh streak of failures is needed to eject it again
      b.set_ejected(false);
      b.set_ejected_until_ns(0);
      lines.push_back("outlier: pool " + it->pool + " backend " + b.address() +
                      " returned after ejection");
    }
    ejected_.erase(returned, ejected_.end());
    // Forget backends whose level has fully decayed, so the map only holds recent offenders.
    std::erase_if(history_, [now](const auto& entry) {
      const history& h = entry.second;
      return now >= h.last_until && (now - h.last_until) / h.base >= h.level;
    });
  }
  if (log_) {
    for (const auto& line : lines)
      log_(line);
  }
}

std::optional<outlier_detector::time_point> outlier_detector::next_deadline() const {
  std::lock_guard lock(mutex_);
  std::optional<time_point> next;
  for (const auto& e : ejected_) {
    if (!next || e.until < *next) next = e.until;
  }
  return next;
}

std::size_t outlier_detector::ejected_count() const {
  std::lock_guard lock(mutex_);
  return ejected_.size();
}

unsigned outlier_detector::level(const balancer::backend& b) const {
  std::lock_guard lock(mutex_);
  auto it = history_.find(b.id());
  return it == history_.end() ? 0 : it->second.level;
}

}  // namespace tally::health
