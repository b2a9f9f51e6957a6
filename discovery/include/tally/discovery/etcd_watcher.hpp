// Follows the keys under an etcd prefix over etcd's v3 HTTP/JSON gateway (Beast, no gRPC): a
// range read of the prefix, then a watch from the revision after it. The watch is a streaming
// response of JSON objects, one per line; a dropped stream is reopened from the last revision
// seen + 1, so a reconnect misses nothing; a compacted revision (the watch is cancelled with
// compact_revision) makes it read the whole prefix again. Failures rotate to the next endpoint
// and wait with exponential backoff; the last published set stays in force meanwhile.
//
// Everything runs on one executor (the app's control loop); call start() and stop() there.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>

#include "tally/config/config.hpp"
#include "tally/discovery/discovered_backend.hpp"

namespace tally::discovery {

struct etcd_watcher_options {
  config::etcd_discovery_config etcd;
  // Bound on each range read and on opening a watch (connect, request, response header).
  std::chrono::milliseconds request_timeout{5000};
  // A watch that delivers nothing for this long is reopened (from the next revision, so nothing
  // is lost). The watch asks for progress notifications, which etcd sends every 10 minutes by
  // default, so a healthy idle stream is never cut; a silently dead one is.
  std::chrono::milliseconds watch_idle{11 * 60 * 1000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{2000};
  // A set known from before (the checkpoint): start watching after its revision instead of
  // reading the prefix; a compacted revision falls back to a full read.
  std::optional<discovered_set> resume;
  // The whole current set, after the range read and after each batch of watch events.
  std::function<void(const discovered_set&)> on_update;
  // One per attempt and per update: true for an applied update, false for a failed request, a
  // dropped watch or a skipped value (tally_discovery_updates_total{result}).
  std::function<void(bool ok)> on_result;
  std::function<void(std::string_view)> log;
};

class etcd_watcher {
 public:
  etcd_watcher(boost::asio::any_io_executor executor, etcd_watcher_options options);
  ~etcd_watcher();  // stops
  etcd_watcher(const etcd_watcher&) = delete;
  etcd_watcher& operator=(const etcd_watcher&) = delete;

  void start();
  // Closes the connection and the backoff wait; no callback runs after it returns. Call on the
  // executor's thread, or after the executor stopped running.
  void stop();

  struct state;

 private:
  std::shared_ptr<state> state_;
};

// The range_end that makes a range cover every key starting with `prefix` (etcd's rule: the
// prefix with its last byte below 0xff incremented; "\0" = every key when there is none).
std::string prefix_range_end(std::string_view prefix);

std::string base64_encode(std::string_view bytes);
// nullopt on characters outside the standard alphabet or a bad length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tally::discovery
