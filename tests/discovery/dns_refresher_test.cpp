#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include "support/wait.hpp"
#include "tally/config/load.hpp"
#include "tally/discovery/dns_refresher.hpp"

namespace tally::test {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using discovery::discovered_set;
using strings = std::vector<std::string>;

// A resolver whose answers the test rewrites; a name without answers fails its lookup.
class fake_dns {
 public:
  void answer(const std::string& host, strings ips) {
    std::lock_guard lock(mutex_);
    answers_[host] = std::move(ips);
  }
  void fail(const std::string& host) {
    std::lock_guard lock(mutex_);
    answers_.erase(host);
  }
  discovery::lookup_function function() {
    return [this](std::string host, std::uint16_t) -> net::awaitable<discovery::lookup_result> {
      discovery::lookup_result r;
      ++lookups_;
      std::lock_guard lock(mutex_);
      auto found = answers_.find(host);
      if (found == answers_.end()) {
        r.error = net::error::host_not_found;
      } else {
        for (const auto& ip : found->second)
          r.addresses.push_back(net::ip::make_address(ip));
      }
      co_return r;
    };
  }
  int lookups() const { return lookups_; }

 private:
  std::mutex mutex_;
  std::map<std::string, strings> answers_;
  std::atomic<int> lookups_{0};
};

class refresher_harness {
 public:
  refresher_harness(fake_dns& dns, const strings& addresses) {
    discovery::dns_refresher_options o;
    for (const auto& a : addresses)
      o.backends.push_back({*config::parse_host_port(a), 2});
    o.refresh = 20ms;
    o.lookup = dns.function();
    o.on_update = [this](const discovered_set& s) {
      std::lock_guard lock(mutex_);
      last_ = s;
      ++updates_;
    };
    o.on_result = [this](bool ok) {
      if (!ok) ++failures_;
    };
    o.log = [](std::string_view) {};
    refresher_ = std::make_unique<discovery::dns_refresher>(ioc_.get_executor(), std::move(o));
    net::post(ioc_, [this] { refresher_->start(); });
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~refresher_harness() {
    net::post(ioc_, net::use_future([this] { refresher_->stop(); })).get();
    ioc_.stop();
    thread_.join();
  }
  strings addresses() const {
    std::lock_guard lock(mutex_);
    strings out;
    if (last_)
      for (const auto& b : last_->backends)
        out.push_back(b.address.text);
    return out;
  }
  int updates() const {
    std::lock_guard lock(mutex_);
    return updates_;
  }
  int failures() const { return failures_; }
  std::optional<discovered_set> last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  net::io_context ioc_;
  std::unique_ptr<discovery::dns_refresher> refresher_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::optional<discovered_set> last_;
  int updates_ = 0;
  std::atomic<int> failures_{0};
};

TEST_CASE("every address a name resolves to is a backend with the configured weight") {
  fake_dns dns;
  dns.answer("api.internal", {"10.0.0.1", "10.0.0.2", "::1"});
  refresher_harness r(dns, {"api.internal:8000", "127.0.0.1:9000"});
  REQUIRE(eventually([&] { return r.updates() > 0; }));
  CHECK(r.addresses() == strings{"10.0.0.1:8000", "10.0.0.2:8000", "[::1]:8000", "127.0.0.1:9000"});
  const auto last = r.last();
  for (const auto& b : last->backends)
    CHECK(b.weight == 2);
}

TEST_CASE("a changed answer publishes a new set and an unchanged one publishes nothing") {
  fake_dns dns;
  dns.answer("api.internal", {"10.0.0.1"});
  refresher_harness r(dns, {"api.internal:8000"});
  REQUIRE(eventually([&] { return r.updates() > 0; }));
  dns.answer("api.internal", {"10.0.0.1", "10.0.0.3"});
  CHECK(eventually([&] { return r.addresses() == strings{"10.0.0.1:8000", "10.0.0.3:8000"}; }));
  dns.answer("api.internal", {"10.0.0.3", "10.0.0.1"});  // the same set in another order
  const int lookups = dns.lookups();
  REQUIRE(eventually([&] { return dns.lookups() > lookups + 1; }));  // one whole refresh after
  const int updates = r.updates();
  REQUIRE(eventually([&] { return dns.lookups() > lookups + 4; }));
  CHECK(r.updates() == updates);
}

TEST_CASE("a failed lookup keeps the name's last good addresses and is counted") {
  fake_dns dns;
  dns.answer("api.internal", {"10.0.0.1"});
  dns.answer("db.internal", {"10.0.1.1"});
  refresher_harness r(dns, {"api.internal:8000", "db.internal:5432"});
  REQUIRE(eventually([&] { return r.addresses().size() == 2; }));
  dns.fail("api.internal");
  dns.answer("db.internal", {"10.0.1.2"});
  CHECK(eventually([&] { return r.addresses() == strings{"10.0.0.1:8000", "10.0.1.2:5432"}; }));
  CHECK(eventually([&] { return r.failures() > 0; }));
  dns.answer("api.internal", {"10.0.0.9"});
  CHECK(eventually([&] { return r.addresses() == strings{"10.0.0.9:8000", "10.0.1.2:5432"}; }));
}

TEST_CASE("a name that never resolved contributes nothing until it does") {
  fake_dns dns;
  dns.answer("api.internal", {"10.0.0.1"});
  refresher_harness r(dns, {"api.internal:8000", "new.internal:8000"});
  REQUIRE(eventually([&] { return r.updates() > 0; }));
  CHECK(r.addresses() == strings{"10.0.0.1:8000"});
  dns.answer("new.internal", {"10.0.2.1"});
  CHECK(eventually([&] { return r.addresses().size() == 2; }));
}

}  // namespace
}  // namespace tally::test
