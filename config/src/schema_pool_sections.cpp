// A pool's health_check, outlier, retry and queue sections.
#include <algorithm>
#include <array>
#include <utility>

#include "scalars.hpp"
#include "schema.hpp"

namespace tally::config::detail {
namespace {

constexpr std::uint64_t max_queue_length = 1'000'000;
constexpr duration longest_queue_wait = std::chrono::minutes{1};

// "200-399", "204" or "200-299,404"; each range within 100..599 and low <= high.
std::optional<std::vector<status_range>> parse_status_ranges(std::string_view text) {
  std::vector<status_range> ranges;
  while (true) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    auto dash = item.find('-');
    auto low = parse_whole_number(item.substr(0, dash)).value;
    auto high =
        dash == std::string_view::npos ? low : parse_whole_number(item.substr(dash + 1)).value;
    if (!low || !high || *low < 100 || *low > *high || *high > 599) return std::nullopt;
    ranges.push_back({static_cast<unsigned>(*low), static_cast<unsigned>(*high)});
    if (comma == std::string_view::npos) return ranges;
    text.remove_prefix(comma + 1);
  }
}

void read_expect_status(const map_reader& check, std::vector<status_range>& out) {
  auto text = check.scalar("expect_status", "statuses like \"200-399\" or \"200-299,404\"");
  if (!text) return;
  auto ranges = parse_status_ranges(*text);
  if (!ranges) {
    check.diag().report(
        check.value_mark("expect_status"),
        check.field("expect_status") + " must list statuses or ranges from 100 to " +
            "599 with low <= high, like \"200-399\" or \"200-299,404\"; got " + quoted(*text));
    return;
  }
  out = std::move(*ranges);
}

// The mark to blame when two fields disagree: the second one if the file wrote it.
YAML::Mark blame(const map_reader& section, std::string_view preferred, std::string_view other) {
  return section.has(preferred) ? section.value_mark(preferred) : section.value_mark(other);
}

void read_retry_conditions(const map_reader& retry, unsigned& out) {
  auto list = retry.list("on", "[connect_failure, reset, timeout, \"502\", \"503\", \"504\"]");
  if (!list) return;
  unsigned conditions = 0;
  bool all_known = true;
  for (const auto& item : *list) {
    auto at = mark_or(item, retry.value_mark("on"));
    if (!item.IsScalar()) {
      retry.diag().report(
          at, retry.field("on") + " must list words like reset or \"502\", got " + describe(item));
      all_known = false;
      continue;
    }
    auto found =
        std::find(retry_condition_words.begin(), retry_condition_words.end(), item.Scalar());
    if (found == retry_condition_words.end()) {
      retry.diag().report(at, "unknown retry condition " + quoted(item.Scalar()) + " in " +
                                  retry.field("on") +
                                  "; expected any of: connect_failure, reset, timeout, 502, "
                                  "503, 504");
      all_known = false;
      continue;
    }
    conditions |= 1u << (found - retry_condition_words.begin());
  }
  if (all_known) out = conditions;
}

}  // namespace

void read_health_check(const map_reader& pool, health_check_config& out) {
  map_reader check(pool, "health_check",
                   {"path", "interval", "timeout", "rise", "fall", "expect_status"});
  if (check.read_string("path", out.path) && out.path.front() != '/') {
    check.diag().report(check.value_mark("path"), check.field("path") +
                                                      " must start with '/', "
                                                      "like /healthz; got " +
                                                      quoted(out.path));
  }
  bool interval_ok = check.read_duration("interval", out.interval) || !check.has("interval");
  bool timeout_ok = check.read_duration("timeout", out.timeout) || !check.has("timeout");
  if (interval_ok && timeout_ok && out.timeout > out.interval) {
    check.diag().report(blame(check, "timeout", "interval"),
                        check.field("timeout") + " (" + format_duration(out.timeout) +
                            ") must not be longer than interval (" + format_duration(out.interval) +
                            "): a probe must end before the next one starts");
  }
  check.read_whole_number("rise", out.rise, 1, 100);
  check.read_whole_number("fall", out.fall, 1, 100);
  read_expect_status(check, out.expect_status);
}

void read_outlier(const map_reader& pool, outlier_config& out) {
  map_reader outlier(pool, "outlier", {"consecutive_failures", "ejection", "max_ejected_percent"});
  outlier.read_whole_number("consecutive_failures", out.consecutive_failures, 1, 1'000'000);
  outlier.read_duration("ejection", out.ejection);
  outlier.read_whole_number("max_ejected_percent", out.max_ejected_percent, 0, 100);
}

void read_retry(const map_reader& pool, retry_config& out) {
  map_reader retry(pool, "retry",
                   {"attempts", "per_try_timeout", "on", "budget_percent", "backoff"});
  retry.read_whole_number("attempts", out.attempts, 0, 10);
  retry.read_duration("per_try_timeout", out.per_try_timeout);
  read_retry_conditions(retry, out.on);
  retry.read_whole_number("budget_percent", out.budget_percent, 0, 100);
  retry.read_duration("backoff", out.backoff, duration{0});
}

void read_queue(const map_reader& pool, queue_config& out) {
  map_reader queue(pool, "queue", {"max", "timeout"});
  queue.read_whole_number("max", out.max, 0, max_queue_length);
  // A waiting request holds its client connection; longer than a minute is a hang, not a queue.
  duration timeout = out.timeout;
  if (!queue.read_duration("timeout", timeout)) return;
  if (timeout > longest_queue_wait) {
    queue.diag().report(queue.value_mark("timeout"),
                        queue.field("timeout") + " must be at most " +
                            format_duration(longest_queue_wait) + ", got " +
                            quoted(queue.value("timeout").Scalar()) +
                            "; a request should not wait longer than that for a backend");
    return;
  }
  out.timeout = timeout;
}

}  // namespace tally::config::detail
