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
#include <boost/intrusive/list.hpp>

#include "http/net_types.hpp"
#include "http/request_id.hpp"
#include "http/upstream_pool.hpp"
#include "tally/proxy/proxy_server.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

struct proxy_shared;

// Sessions link themselves into their worker's list so a drain can close the idle ones.
using session_hook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class session_base : public session_hook {
 public:
  virtual ~session_base() = default;
  // Called on the worker's thread when the process drains: close now if idle between requests.
  virtual void on_drain() = 0;
};

class worker {
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

  unsigned index() const noexcept { return index_; }
  boost::asio::io_context& io_context() noexcept { return ioc_; }
  proxy_shared& shared() noexcept { return shared_; }
  upstream_pool& upstreams() noexcept { return upstreams_; }
  request_id_generator& request_ids() noexcept { return request_ids_; }

  // The current routing snapshot; refreshed from the holder only when a reload published one.
  const std::shared_ptr<const routing_snapshot>& snapshot();

  void add_session(session_base& s) { sessions_.push_back(s); }

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

  unsigned index_;
  proxy_shared& shared_;
  // Only this worker's thread touches its sockets and timers (other threads post), so the
  // reactor can skip its locks.
  boost::asio::io_context ioc_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::vector<std::shared_ptr<listener_socket>> listeners_;  // in config order
  bool started_ = false;
  boost::asio::steady_timer sweep_timer_{ioc_};
  upstream_pool upstreams_;
  request_id_generator request_ids_;
  std::shared_ptr<const routing_snapshot> snapshot_;
  std::uint64_t snapshot_generation_ = ~std::uint64_t{0};
  boost::intrusive::list<session_base, boost::intrusive::constant_time_size<false>> sessions_;
  std::thread thread_;
};

}  // namespace tally::proxy
