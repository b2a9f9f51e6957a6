// The client half of the peer protocol: each round POSTs this replica's encoded view to every
// peer's admin listener at /cluster/votes. One request per peer is in flight at most; a peer
// still busy with the previous round skips this one, so a slow or dead peer costs one socket and
// never a queue. Every exchange has one deadline (connect + write + read) on the stream. The
// connection is kept alive between rounds and reopened when the peer closed it.
// With a token, each request carries "Authorization: Bearer <token>" and an X-Tally-Signature
// (peer_auth.hpp) made when the request is written, with the token current at that moment.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "tally/cluster/common.hpp"
#include "tally/config/config.hpp"

namespace tally::cluster {

namespace net = boost::asio;

using log_fn = std::function<void(std::string_view)>;

struct peer_snapshot {
  std::string id;
  std::string address;
  std::optional<steady_time> last_success;  // last exchange answered 200
  bool in_flight = false;
  std::string last_error;  // empty while the peer answers
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::uint64_t skipped = 0;  // rounds skipped because the previous request was still running
};

class gossip_client {
 public:
  // `token` empty = no Authorization or signature header. `timeout` bounds each whole exchange.
  // `wall` stamps the signatures.
  gossip_client(net::io_context& ioc, const std::vector<config::peer_config>& peers,
                std::string token, std::chrono::milliseconds timeout,
                const steady_clock_fn& clock = default_steady_now, const log_fn& log = {},
                system_ms_fn wall = default_system_ms);
  ~gossip_client();
  gossip_client(const gossip_client&) = delete;
  gossip_client& operator=(const gossip_client&) = delete;

  // Starts one POST of `body` to each peer that has none in flight. Thread-safe; the requests
  // run on the io_context.
  void send_round(const std::shared_ptr<const std::string>& body);
  // The token for requests written from now on (after a reload changed it). Thread-safe.
  void set_token(std::string token);
  // No new rounds; open connections are closed on the io_context.
  void stop();
  // Thread-safe copy of each peer's state, in configured order.
  std::vector<peer_snapshot> peers() const;

 private:
  struct channel;
  struct credentials;
  net::io_context& ioc_;
  std::shared_ptr<credentials> credentials_;  // shared with the channels
  std::vector<std::shared_ptr<channel>> channels_;
  std::atomic<bool> stopped_{false};
};

}  // namespace tally::cluster
