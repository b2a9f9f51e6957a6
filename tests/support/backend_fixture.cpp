#include "support/backend_fixture.hpp"

#include <chrono>

namespace tally::test {

backend_set::backend_set(std::size_t count) : work_(boost::asio::make_work_guard(ioc_)) {
  for (std::size_t i = 0; i < count; ++i)
    backends_.push_back(std::make_unique<proxy::demo_backend>(ioc_, "b" + std::to_string(i + 1)));
  std::promise<void> finished;
  finished_ = finished.get_future();
  thread_ = std::thread([this, finished = std::move(finished)]() mutable {
    ioc_.run();
    finished.set_value();
  });
}

backend_set::~backend_set() {
  for (auto& backend : backends_)
    backend->stop();
  work_.reset();
  // Stopping closes every socket and timer, so run() normally returns at once; a connection
  // stuck in a write would hold it for up to its 30 s timeout, which a test must not wait for.
  if (finished_.wait_for(std::chrono::seconds(3)) != std::future_status::ready) ioc_.stop();
  thread_.join();
  backends_.clear();
}

std::string backend_set::address(std::size_t i) const {
  return "127.0.0.1:" + std::to_string(port(i));
}

}  // namespace tally::test
