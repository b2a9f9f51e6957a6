// Re-resolves a pool's backend host names every `refresh`, off the event loops (Asio's resolver
// runs the lookups on its own thread; the refresher lives on the control loop). Every address a
// name resolves to is a backend with the configured weight; IP literals pass through. A failed
// lookup keeps that name's last good addresses (logged and counted). The set is published first
// once every name has been looked up, then whenever it changes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>

#include "tally/config/config.hpp"
#include "tally/discovery/discovered_backend.hpp"

namespace tally::discovery {

struct lookup_result {
  boost::system::error_code error;
  std::vector<boost::asio::ip::address> addresses;
};
using lookup_function =
    std::function<boost::asio::awaitable<lookup_result>(std::string host, std::uint16_t port)>;

struct dns_refresher_options {
  std::vector<config::backend_config> backends;  // as configured
  std::chrono::milliseconds refresh{5000};
  // Bound on one lookup; a slower resolver counts as a failed lookup.
  std::chrono::milliseconds lookup_timeout{5000};
  lookup_function lookup;  // empty = the system resolver
  std::function<void(const discovered_set&)> on_update;
  std::function<void(bool ok)> on_result;  // per published set (true) and per failed lookup
  std::function<void(std::string_view)> log;
};

class dns_refresher {
 public:
  dns_refresher(boost::asio::any_io_executor executor, dns_refresher_options options);
  ~dns_refresher();
  dns_refresher(const dns_refresher&) = delete;
  dns_refresher& operator=(const dns_refresher&) = delete;

  void start();
  // No callback runs after it returns. Call on the executor's thread, or after it stopped.
  void stop();

  struct state;

 private:
  std::shared_ptr<state> state_;
};

// The text tally labels an address with: "10.0.0.5:8000", "[::1]:8000".
std::string address_text(const boost::asio::ip::address& address, std::uint16_t port);

}  // namespace tally::discovery
