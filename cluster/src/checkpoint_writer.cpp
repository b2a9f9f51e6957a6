#include "tally/cluster/checkpoint_writer.hpp"

#include <exception>
#include <utility>

#include "tally/cluster/checkpoint_codec.hpp"
#include "tally/cluster/checkpoint_file.hpp"

namespace tally::cluster {

namespace {
using steady = std::chrono::steady_clock;

// The periodic source is the app's code: whatever it throws is logged, and that round skipped.
std::optional<checkpoint_state> read_source(const checkpoint_writer_options& options) {
  try {
    return options.source();
  } catch (const std::exception& e) {
    if (options.log) options.log(std::string("checkpoint: reading the state failed: ") + e.what());
  } catch (...) {
    if (options.log) options.log("checkpoint: reading the state failed");
  }
  return std::nullopt;
}

}  // namespace

checkpoint_writer::checkpoint_writer(checkpoint_writer_options options)
    : options_(std::move(options)) {
  // Earlier runs killed mid-write leave temp files; nothing else ever removes them.
  remove_stale_checkpoint_temps(options_.path);
  thread_ = std::thread([this] { run(); });
}

checkpoint_writer::~checkpoint_writer() {
  {
    std::lock_guard lock(mutex_);
    ++flush_requests_;
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void checkpoint_writer::request_write(checkpoint_state state) {
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(state);
  }
  wake_.notify_one();
}

bool checkpoint_writer::flush() {
  std::unique_lock lock(mutex_);
  const auto ticket = ++flush_requests_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return flush_done_ >= ticket; });
  return last_flush_ok_;
}

std::int64_t checkpoint_writer::now_ms() const {
  if (options_.wall_clock_ms) return options_.wall_clock_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void checkpoint_writer::run() {
  const bool periodic = options_.source && options_.interval.count() > 0;
  auto last_write = steady::time_point::min();
  auto next_periodic = periodic ? steady::now() + options_.interval : steady::time_point::max();
  std::optional<checkpoint_state> unwritten;  // the last state whose write failed

  // Writes outside the lock so request_write() never waits for a disk.
  auto write_unlocked = [&](std::unique_lock<std::mutex>& lock, checkpoint_state state) {
    lock.unlock();
    last_write = steady::now();
    const bool ok = write_now(state);
    if (ok)
      unwritten.reset();
    else
      unwritten = std::move(state);
    lock.lock();
    return ok;
  };

  std::unique_lock lock(mutex_);
  for (;;) {
    if (flush_done_ != flush_requests_) {
      const auto ticket = flush_requests_;
      auto state = std::exchange(pending_, std::nullopt);
      if (!state) state = std::exchange(unwritten, std::nullopt);  // one more try at shutdown
      const bool ok = state ? write_unlocked(lock, std::move(*state)) : true;
      flush_done_ = ticket;
      last_flush_ok_ = ok;
      flushed_.notify_all();
      continue;
    }
    if (stopping_) return;

    const auto now = steady::now();
    if (periodic && now >= next_periodic) {
      next_periodic = now + options_.interval;
      pending_.reset();  // source() is at least as new as anything requested
      lock.unlock();
      std::optional<checkpoint_state> state = read_source(options_);
      lock.lock();
      if (state) write_unlocked(lock, std::move(*state));
      continue;
    }
    const auto earliest =
        last_write == steady::time_point::min() ? now : last_write + options_.min_spacing;
    if (pending_ && now >= earliest) {
      auto state = std::exchange(pending_, std::nullopt);
      write_unlocked(lock, std::move(*state));
      continue;
    }
    const auto deadline = std::min(pending_ ? earliest : steady::time_point::max(), next_periodic);
    if (deadline == steady::time_point::max())
      wake_.wait(lock);
    else
      wake_.wait_until(lock, deadline);
  }
}

bool checkpoint_writer::write_now(checkpoint_state& state) {
  const auto started = steady::now();
  checkpoint_write_report report;
  try {
    state.written_at_ms = now_ms();
    const auto bytes = encode_checkpoint(state);
    report.bytes = bytes.size();
    if (auto error = write_checkpoint_file(options_.path, bytes)) report.error = error->message;
  } catch (const std::exception& e) {
    report.error = "cannot write checkpoint " + options_.path.string() + ": " + e.what();
  }
  report.ok = report.error.empty();
  report.duration = steady::now() - started;
  report.finished_at_ms = now_ms();

  if (report.ok) {
    ++successes_;
    last_success_ms_ = report.finished_at_ms;
    if (failing_ && options_.log)
      options_.log("checkpoint: writing " + options_.path.string() + " works again");
    failing_ = false;
  } else {
    ++failures_;
    failing_ = true;
    if (options_.log)
      options_.log("checkpoint: " + report.error +
                   "; tally keeps serving and retries at the next change or interval, the last "
                   "good checkpoint file is unchanged");
  }
  if (options_.on_write) options_.on_write(report);
  return report.ok;
}

}  // namespace tally::cluster
