// N demo backends (b1..bN) on ephemeral ports, served by one background thread.
#pragma once

#include "tally/proxy/demo_backend.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tally::test {

class backend_set {
 public:
  // Backends are named b1..bN and listen on 127.0.0.1 with ports chosen by the kernel.
  explicit backend_set(std::size_t count);
  // Stops every backend and joins the thread (forcing the context to stop after a bound).
  ~backend_set();
  backend_set(const backend_set&) = delete;
  backend_set& operator=(const backend_set&) = delete;

  std::size_t size() const { return backends_.size(); }
  // Zero-based: backend(0) is b1.
  proxy::demo_backend& backend(std::size_t i) { return *backends_.at(i); }
  std::uint16_t port(std::size_t i) const { return backends_.at(i)->port(); }
  // "127.0.0.1:<port>", as a config file names it.
  std::string address(std::size_t i) const;

  boost::asio::io_context& context() { return ioc_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::unique_ptr<proxy::demo_backend>> backends_;
  std::future<void> finished_;
  std::thread thread_;
};

}  // namespace tally::test
