#include <doctest/doctest.h>

#include <boost/system/errc.hpp>

#include "admin/admin_server.hpp"
#include "app/process_limits.hpp"
#include "listener/accept_backoff.hpp"
#include "tally/config/load.hpp"
#include "tally/health/local_errors.hpp"

using namespace tally::proxy;

namespace {

std::shared_ptr<const tally::config::config> config_with(unsigned max_connections) {
  auto r = tally::config::load_config_string(
      "workers: 2\nlimits: { max_connections: " + std::to_string(max_connections) +
          " }\npools:\n  web:\n    backends:\n      - { address: 127.0.0.1:9001 }\n"
          "      - { address: 127.0.0.1:9002 }\nroutes:\n  - { path_prefix: /, pool: web }\n",
      "test.yaml");
  REQUIRE(r.ok());
  return r.value;
}

}  // namespace

TEST_CASE("process_limits: a client and a backend descriptor per connection, plus the rest") {
  auto cfg = config_with(1000);
  const auto needed = descriptors_needed(*cfg);
  // 2 x 1000, the admin cap, two health checks, a reserve per worker and a fixed one.
  CHECK(needed == 2000 + admin_server::max_connections + 2 + 4 * 2 + 32);
  CHECK(fd_budget_warning(*cfg, needed).empty());
  CHECK(connections_that_fit(*cfg, needed) == 1000);
}

TEST_CASE("process_limits: a limit too low for max_connections warns and caps the connections") {
  auto cfg = config_with(10000);
  CHECK(connections_that_fit(*cfg, 256) == (256 - (64 + 2 + 8 + 32)) / 2);
  auto warning = fd_budget_warning(*cfg, 256);
  CHECK(warning.find("descriptor limit (256)") != std::string::npos);
  CHECK(warning.find("at most 75 client connections") != std::string::npos);
  CHECK(warning.find("ulimit -n") != std::string::npos);
  CHECK(connections_that_fit(*cfg, 10) == 1);  // never zero: refusing everything helps no one
}

TEST_CASE("process_limits: the soft descriptor limit is raised to the hard one") {
  auto after = raise_fd_limit();
  CHECK(after.soft == after.hard);
}

TEST_CASE("accept_backoff: 50 ms doubling to 1 s - a success starts over") {
  accept_backoff b;
  CHECK(b.next() == std::chrono::milliseconds(50));
  CHECK(b.next() == std::chrono::milliseconds(100));
  CHECK(b.next() == std::chrono::milliseconds(200));
  CHECK(b.next() == std::chrono::milliseconds(400));
  CHECK(b.next() == std::chrono::milliseconds(800));
  CHECK(b.next() == std::chrono::milliseconds(1000));
  CHECK(b.next() == std::chrono::milliseconds(1000));
  b.reset();
  CHECK(b.next() == std::chrono::milliseconds(50));
}

TEST_CASE("local_errors: out of descriptors, buffers, memory or ports is local - refused is not") {
  using boost::system::errc::make_error_code;
  namespace errc = boost::system::errc;
  CHECK(tally::health::local_resource_error(make_error_code(errc::too_many_files_open)));
  CHECK(tally::health::local_resource_error(make_error_code(errc::too_many_files_open_in_system)));
  CHECK(tally::health::local_resource_error(make_error_code(errc::no_buffer_space)));
  CHECK(tally::health::local_resource_error(make_error_code(errc::address_not_available)));
  CHECK_FALSE(tally::health::local_resource_error(make_error_code(errc::connection_refused)));
  CHECK(tally::health::resource_error_reason(make_error_code(errc::too_many_files_open)) ==
        "emfile");
  CHECK(tally::health::resource_error_reason(make_error_code(errc::connection_refused)) == "other");
  // Asio reports accept and connect errors in the system category.
  CHECK(tally::health::local_resource_error(
      boost::system::error_code(EMFILE, boost::system::system_category())));
}
