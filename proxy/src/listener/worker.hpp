// One event-loop thread. tally runs one io_context per worker, each with its own SO_REUSEPORT
// socket for every configured listener, so a connection lives and dies on one thread and nothing in
// a session is shared: no strands, no locks on the request path. Cross-thread inputs are the
// routing snapshot (atomic pointer), backend state (atomics) and posts to the io_context.
#pragma once

#include <cstdint>
#include <memory>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/net_types.hpp"
#include "http/worker_context.hpp"
#include "tally/proxy/proxy_server.hpp"

namespace tally::proxy {

class worker : public worker_context {
 public:
  worker(unsigned index, proxy_shared& shared);
  ~worker();

  // Opens this worker's listeners with SO_REUSEPORT (start-up, before start()). Throws on
  // failure. Each spec's endpoint becomes the bound one (port 0: the port the kernel chose).
  void listen(std::vector<listener_spec>& specs);
  std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;
  // Thread-safe, blocking until done: makes the listeners `specs` (a reload). A listener whose
  // name is unchanged keeps its socket and takes the spec's TLS for new connections; new ones
  // are bound before any old one closes; on failure nothing changes. Returns the error;
  // operation_aborted once a drain began or the loop stopped (it never waits on a stopped loop).
  boost::system::error_code rebind(std::vector<listener_spec>& specs);

  void start();        // starts the thread
  void begin_drain();  // thread-safe: stop accepting, close idle connections
  void stop();         // thread-safe: stop the loop now
  void join();

 private:
  // One configured listener on this worker. Shared with its accept loop, which outlives it by
  // one wake-up when a reload closes it.
  struct listener_socket {
    listener_socket(boost::asio::io_context& ioc, std::string n)
        : name(std::move(n)), acceptor(ioc), pause(ioc) {}
    std::string name;
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer pause;  // backoff after a failed accept
    std::shared_ptr<server_tls> tls;  // for new connections; null: plain HTTP
  };

  boost::system::error_code replace_listeners(std::vector<listener_spec>& specs);
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<listener_socket> l);
  boost::asio::awaitable<void> sweep_loop();

  std::vector<std::shared_ptr<listener_socket>> listeners_;  // in config order
  bool started_ = false;
  boost::asio::steady_timer sweep_timer_{ioc_};
  std::thread thread_;
};

}  // namespace tally::proxy
