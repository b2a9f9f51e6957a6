// Drives an outlier_detector in real time: one steady_timer on the control loop sleeps until the
// earliest ejection ends, calls tick(), and re-arms. The detector stays pure (time passed in), so
// its tests step time; this adaptor is the only place that reads the real clock for it.
//
// Threading: construct, start() and stop() on the thread that runs `ioc`. Workers reach the
// ticker only through the detector's ejection hook, which posts to `ioc`.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>

#include "tally/health/outlier_detector.hpp"

namespace tally::health {

namespace net = boost::asio;

namespace detail {
struct ticker_state;
}

class outlier_ticker {
 public:
  // Installs the detector's ejection hook (set_on_ejection), so construct it before workers
  // call record(). The detector must outlive the ticker's use of it: stop() before destroying it.
  outlier_ticker(boost::asio::io_context& ioc, outlier_detector& detector);
  ~outlier_ticker();

  outlier_ticker(const outlier_ticker&) = delete;
  outlier_ticker& operator=(const outlier_ticker&) = delete;

  void start();
  // Cancels the timer; ejections recorded afterwards are no longer returned by this ticker.
  void stop();

 private:
  boost::asio::io_context& ioc_;
  std::shared_ptr<detail::ticker_state> state_;
};

}  // namespace tally::health
