// "host:port" from the config to one endpoint: IP literals directly, names through the system
// resolver. Blocking: called at start-up and on the blocking pool during a reload, never on an
// event loop.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include "tally/config/config.hpp"

namespace tally::proxy {

// The first address `hp` resolves to; on failure `ec` says why (no addresses: host_not_found).
boost::asio::ip::tcp::endpoint resolve_address(const config::host_port& hp,
                                               boost::system::error_code& ec);

}  // namespace tally::proxy
