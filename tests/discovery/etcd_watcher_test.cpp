#include <atomic>
#include <mutex>
#include <thread>

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include "discovery/etcd_fixture.hpp"
#include "tally/discovery/etcd_watcher.hpp"

namespace tally::test {
namespace {

namespace net = boost::asio;
using discovery::discovered_set;

// A watcher on its own loop thread, recording every set it publishes.
class watcher_harness {
 public:
  explicit watcher_harness(std::vector<config::host_port> endpoints, std::string prefix,
                           std::optional<discovered_set> resume = std::nullopt) {
    discovery::etcd_watcher_options o;
    o.etcd.endpoints = std::move(endpoints);
    o.etcd.prefix = std::move(prefix);
    o.request_timeout = 2s;
    o.backoff_max = 200ms;
    o.resume = std::move(resume);
    o.on_update = [this](const discovered_set& s) {
      std::lock_guard lock(mutex_);
      last_ = s;
      ++updates_;
    };
    o.on_result = [this](bool ok) { (ok ? successes_ : failures_)++; };
    o.log = [this](std::string_view m) {
      std::lock_guard lock(mutex_);
      log_ += std::string(m) + "\n";
    };
    watcher_ = std::make_unique<discovery::etcd_watcher>(ioc_.get_executor(), std::move(o));
    net::post(ioc_, [this] { watcher_->start(); });
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~watcher_harness() {
    net::post(ioc_, net::use_future([this] { watcher_->stop(); })).get();
    ioc_.stop();
    thread_.join();
  }

  std::optional<discovered_set> last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }
  // The published addresses, in key order.
  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    if (auto s = last())
      for (const auto& b : s->backends)
        out.push_back(b.address.text);
    return out;
  }
  int updates() const {
    std::lock_guard lock(mutex_);
    return updates_;
  }
  int failures() const { return failures_; }
  std::string log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  net::io_context ioc_;
  std::unique_ptr<discovery::etcd_watcher> watcher_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::optional<discovered_set> last_;
  int updates_ = 0;
  std::atomic<int> successes_{0};
  std::atomic<int> failures_{0};
  std::string log_;
};

using strings = std::vector<std::string>;

TEST_CASE("a range read finds the keys under the prefix, and only those") {
  etcd_server etcd;
  etcd.put("/tally/web/a", R"({"address": "10.0.0.1:8000", "weight": 2})");
  etcd.put("/tally/web/b", R"({"address": "10.0.0.2:8000"})");
  etcd.put("/tally/webx/c", R"({"address": "10.0.0.3:8000"})");
  etcd.put("/tally/other", R"({"address": "10.0.0.4:8000"})");
  watcher_harness w({etcd.endpoint()}, "/tally/web/");
  REQUIRE(eventually([&] { return w.updates() > 0; }));
  CHECK(w.addresses() == strings{"10.0.0.1:8000", "10.0.0.2:8000"});
  CHECK(w.last()->backends[0].weight == 2);
  CHECK(w.last()->backends[1].weight == 1);
  CHECK(w.last()->revision > 0);
}

TEST_CASE("puts and deletes after the range read arrive through the watch") {
  etcd_server etcd;
  watcher_harness w({etcd.endpoint()}, "/p/");
  REQUIRE(eventually([&] { return w.updates() > 0; }));
  CHECK(w.addresses().empty());
  auto rev = etcd.put("/p/a", R"({"address": "127.0.0.1:9001"})");
  CHECK(eventually([&] { return w.addresses() == strings{"127.0.0.1:9001"}; }));
  CHECK(w.last()->revision == rev);
  etcd.put("/p/b", R"({"address": "127.0.0.1:9002", "weight": 5})");
  CHECK(eventually([&] { return w.addresses().size() == 2; }));
  etcd.put("/p/a", R"({"address": "127.0.0.1:9001", "weight": 3})");
  CHECK(eventually([&] { return w.last()->backends[0].weight == 3; }));
  rev = etcd.del("/p/a");
  CHECK(eventually([&] { return w.addresses() == strings{"127.0.0.1:9002"}; }));
  CHECK(w.last()->revision == rev);
}

TEST_CASE("garbage values are logged and skipped while the good keys stay") {
  etcd_server etcd;
  etcd.put("/p/good", R"({"address": "127.0.0.1:9001"})");
  etcd.put("/p/not-json", "hello");
  etcd.put("/p/no-address", R"({"weight": 2})");
  etcd.put("/p/bad-port", R"({"address": "127.0.0.1:0"})");
  etcd.put("/p/bad-weight", R"({"address": "127.0.0.1:9002", "weight": -1})");
  etcd.put("/p/huge-weight", R"({"address": "127.0.0.1:9003", "weight": 1e9})");
  etcd.put("/p/binary", std::string("\xff\x00\x01", 3));
  watcher_harness w({etcd.endpoint()}, "/p/");
  REQUIRE(eventually([&] { return w.updates() > 0; }));
  CHECK(w.addresses() == strings{"127.0.0.1:9001"});
  CHECK(w.failures() >= 6);
  CHECK(w.log().find("skipping key /p/not-json") != std::string::npos);
  // A good key turned bad is dropped rather than kept with its old value.
  etcd.put("/p/good", "{");
  CHECK(eventually([&] { return w.addresses().empty(); }));
  etcd.put("/p/good", R"({"address": "127.0.0.1:9001"})");
  CHECK(eventually([&] { return w.addresses().size() == 1; }));
}

TEST_CASE("two keys with one address publish it once") {
  etcd_server etcd;
  etcd.put("/p/a", R"({"address": "127.0.0.1:9001"})");
  etcd.put("/p/b", R"({"address": "127.0.0.1:9001", "weight": 4})");
  watcher_harness w({etcd.endpoint()}, "/p/");
  REQUIRE(eventually([&] { return w.updates() > 0; }));
  CHECK(w.addresses() == strings{"127.0.0.1:9001"});
}

TEST_CASE("etcd killed keeps the last set and restarted the watch resumes without missing events") {
  etcd_server etcd;
  etcd.put("/p/a", R"({"address": "127.0.0.1:9001"})");
  watcher_harness w({etcd.endpoint()}, "/p/");
  REQUIRE(eventually([&] { return w.addresses().size() == 1; }));
  const int updates_before = w.updates();
  etcd.kill();
  CHECK(eventually([&] { return w.failures() >= 2; }));
  CHECK(w.addresses() == strings{"127.0.0.1:9001"});
  CHECK(w.updates() == updates_before);
  etcd.start();
  etcd.put("/p/b", R"({"address": "127.0.0.1:9002"})");
  CHECK(eventually([&] { return w.addresses().size() == 2; }));
}

TEST_CASE("a second endpoint takes over when the first is down") {
  etcd_server etcd;
  etcd.put("/p/a", R"({"address": "127.0.0.1:9001"})");
  config::host_port dead{"127.0.0.1", unused_port(), ""};
  dead.text = "127.0.0.1:" + std::to_string(dead.port);
  watcher_harness w({dead, etcd.endpoint()}, "/p/");
  CHECK(eventually([&] { return w.addresses().size() == 1; }));
  etcd.put("/p/b", R"({"address": "127.0.0.1:9002"})");
  CHECK(eventually([&] { return w.addresses().size() == 2; }));
  CHECK(w.log().find(dead.text) != std::string::npos);
}

TEST_CASE("a watch from a compacted revision reads the whole prefix again") {
  etcd_server etcd;
  auto first = etcd.put("/p/a", R"({"address": "127.0.0.1:9001"})");
  etcd.put("/p/b", R"({"address": "127.0.0.1:9002"})");
  etcd.del("/p/a");
  auto last = etcd.put("/p/c", R"({"address": "127.0.0.1:9003"})");
  etcd.compact(last);
  // Resumed from a checkpoint taken at `first`: the events since are gone.
  discovered_set known;
  known.revision = first;
  known.backends.push_back({{"127.0.0.1", 9001, "127.0.0.1:9001"}, 1, "/p/a"});
  watcher_harness w({etcd.endpoint()}, "/p/", known);
  CHECK(eventually([&] { return w.addresses() == strings{"127.0.0.1:9002", "127.0.0.1:9003"}; }));
  CHECK(w.log().find("compacted") != std::string::npos);
  CHECK(w.last()->revision == last);
}

TEST_CASE("a resumed watch applies only the events after the known revision") {
  etcd_server etcd;
  auto first = etcd.put("/p/a", R"({"address": "127.0.0.1:9001"})");
  etcd.del("/p/a");
  discovered_set known;
  known.revision = first;
  known.backends.push_back({{"127.0.0.1", 9001, "127.0.0.1:9001"}, 1, "/p/a"});
  watcher_harness w({etcd.endpoint()}, "/p/", known);
  CHECK(eventually([&] { return w.updates() > 0 && w.addresses().empty(); }));
}

TEST_CASE("1,000 keys under the prefix") {
  etcd_server etcd;
  for (int i = 0; i < 500; ++i)
    etcd.put("/p/" + std::to_string(i), R"({"address": "10.0.)" + std::to_string(i / 250) + "." +
                                            std::to_string(i % 250) + R"(:8000"})");
  watcher_harness w({etcd.endpoint()}, "/p/");
  REQUIRE(eventually([&] { return w.addresses().size() == 500; }));
  for (int i = 500; i < 1000; ++i)
    etcd.put("/p/" + std::to_string(i), R"({"address": "10.0.)" + std::to_string(i / 250) + "." +
                                            std::to_string(i % 250) + R"(:8000"})");
  CHECK(eventually([&] { return w.addresses().size() == 1000; }));
}

}  // namespace
}  // namespace tally::test
