// Helpers shared by the health tests: drive an io_context on the test thread until a condition
// holds (bounded, never a sleep standing in for an event), run one probe, build pools.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tally/balancer/pool.hpp"
#include "tally/health/probe.hpp"

namespace tally::health::test {

namespace net = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Runs handlers of `ioc` on this thread until `done()` or `limit` passes; returns done().
template <class Pred>
bool run_until(net::io_context& ioc, Pred done, std::chrono::milliseconds limit = 5s) {
  const auto deadline = steady::now() + limit;
  while (!done()) {
    if (steady::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(10ms);
  }
  return true;
}

inline net::ip::tcp::endpoint loopback(std::uint16_t port) {
  return {net::ip::address_v4::loopback(), port};
}

inline config::health_check_config check_config(std::string path = "/healthz",
                                                std::chrono::milliseconds timeout = 1s) {
  config::health_check_config cfg;
  cfg.path = std::move(path);
  cfg.timeout = timeout;
  return cfg;
}

// One probe on a private io_context, bounded by 10 s of wall time.
inline probe_result run_probe(std::uint16_t port, config::health_check_config cfg) {
  net::io_context ioc;
  std::optional<probe_result> out;
  std::exception_ptr error;
  net::co_spawn(ioc, probe(loopback(port), "127.0.0.1:" + std::to_string(port), std::move(cfg)),
                [&](std::exception_ptr e, probe_result r) {
                  error = e;
                  out = std::move(r);
                });
  ioc.run_for(10s);
  if (error) std::rethrow_exception(error);
  if (!out) throw std::runtime_error("probe did not finish within 10s");
  return *out;
}

// Collects log lines (thread-safe: the outlier detector logs from worker threads).
class log_capture {
 public:
  auto sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  std::size_t count(std::string_view needle) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& l : lines_)
      n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// A pool of `n` backends "10.0.0.i:80" named `name`, with an outlier section.
inline std::unique_ptr<balancer::pool> outlier_pool(std::size_t n, unsigned consecutive,
                                                    std::chrono::milliseconds ejection,
                                                    unsigned max_percent, bool configured = true,
                                                    std::string name = "web") {
  config::pool_config cfg;
  cfg.name = std::move(name);
  cfg.outlier_configured = configured;
  cfg.outlier.consecutive_failures = consecutive;
  cfg.outlier.ejection = ejection;
  cfg.outlier.max_ejected_percent = max_percent;
  balancer::backend_list backends;
  for (std::size_t i = 1; i <= n; ++i) {
    backends.push_back(
        std::make_shared<balancer::backend>("10.0.0." + std::to_string(i) + ":80", 1));
  }
  return std::make_unique<balancer::pool>(cfg, std::move(backends), 1);
}

}  // namespace tally::health::test
