// What a session needs of the worker thread it runs on: its io_context, its routing snapshot,
// its pool of idle backend connections, its request ids and the server-wide counters. The
// worker (listener/worker.hpp: the thread, its listeners and accept loops) is a worker_context;
// sessions see only this, so http/ does not depend on listener/.
//
// Everything here belongs to one thread: sessions call it from their worker's thread only.
#pragma once

#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/intrusive/list.hpp>

#include "http/proxy_shared.hpp"
#include "http/request_id.hpp"
#include "http/upstream_pool.hpp"
#include "tally/proxy/routing_snapshot.hpp"

namespace tally::proxy {

// Sessions link themselves into their worker's list so a drain can close the idle ones.
using session_hook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class session_base : public session_hook {
 public:
  virtual ~session_base() = default;
  // Called on the worker's thread when the process drains: close now if idle between requests.
  virtual void on_drain() = 0;
};

class worker_context {
 public:
  worker_context(unsigned index, proxy_shared& shared) : index_(index), shared_(shared) {}
  worker_context(const worker_context&) = delete;
  worker_context& operator=(const worker_context&) = delete;

  unsigned index() const noexcept { return index_; }
  boost::asio::io_context& io_context() noexcept { return ioc_; }
  proxy_shared& shared() noexcept { return shared_; }
  upstream_pool& upstreams() noexcept { return upstreams_; }
  request_id_generator& request_ids() noexcept { return request_ids_; }

  // The current routing snapshot, reloaded only when its generation changed (one atomic load
  // per call, no reference count traffic on the request path).
  const std::shared_ptr<const routing_snapshot>& snapshot() {
    const auto gen = shared_.snapshots.generation();
    if (gen != snapshot_generation_) {
      snapshot_ = shared_.snapshots.load();
      snapshot_generation_ = gen;
    }
    return snapshot_;
  }

  void add_session(session_base& s) { sessions_.push_back(s); }

 protected:
  ~worker_context() = default;

  unsigned index_;
  proxy_shared& shared_;
  // Only this worker's thread touches its sockets and timers (other threads post), so the
  // reactor can skip its locks. Declared before everything that holds its sockets and timers,
  // so it is destroyed after them.
  boost::asio::io_context ioc_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  upstream_pool upstreams_;
  request_id_generator request_ids_;
  std::shared_ptr<const routing_snapshot> snapshot_;
  std::uint64_t snapshot_generation_ = ~std::uint64_t{0};
  boost::intrusive::list<session_base, boost::intrusive::constant_time_size<false>> sessions_;
};

}  // namespace tally::proxy
