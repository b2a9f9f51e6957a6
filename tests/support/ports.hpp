// Ports for tests. Everything tally and the demo backends open can bind port 0 and report the
// port it got; prefer that. unused_port() is for the rare address that must be written into a
// config before its owner starts (a cluster peer's admin listener): it may race with another
// process taking the same port, so use it only there — or where a test needs a port that nothing
// listens on (connections to it are refused).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>

namespace tally::test {

inline std::uint16_t unused_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::address_v4::loopback(), 0},
                                          /*reuse_addr=*/true);
  return acceptor.local_endpoint().port();
}

}  // namespace tally::test
