// A test-only stand-in for the admin server: POST /cluster/votes goes to cluster_node's
// handle_votes() with the X-Tally-Signature header; with a token set, a missing or wrong
// "Authorization: Bearer" gets 401 first (the real check is the admin server's). Binds 127.0.0.1:0
// at construction so the port can go into the peers' configs before anything runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "tally/cluster/cluster_node.hpp"

namespace tally::cluster::test {

class votes_server {
 public:
  votes_server(boost::asio::io_context& ioc, std::string token);
  std::uint16_t port() const { return port_; }
  void set_node(cluster_node* node) { node_ = node; }  // before start()
  void start();
  void stop();  // closes the listener (posted to the io_context)

  std::atomic<int> unauthorized{0};
  std::atomic<int> served{0};

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::string token_;
  cluster_node* node_ = nullptr;
};

}  // namespace tally::cluster::test
