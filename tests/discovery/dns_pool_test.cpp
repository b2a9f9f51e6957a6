// A pool whose backend host names are re-resolved (discovery.dns), through the proxy.
#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include "support/backend_fixture.hpp"
#include "support/http_client.hpp"
#include "support/proxy_fixture.hpp"
#include "support/wait.hpp"

namespace tally::test {
namespace {

TEST_CASE("a dns pool serves the addresses its host name resolves to and says so in /status") {
  backend_set backends(1);
  const auto named = "localhost:" + std::to_string(backends.port(0));
  proxy_fixture proxy(proxy_yaml(
      {{"web", "round_robin", {named}, {}, "    discovery: { dns: { refresh: 100ms } }\n"}}));
  const auto resolved = backends.address(0);  // 127.0.0.1:PORT
  REQUIRE(eventually([&] {
    auto status = boost::json::parse(http_get(proxy.admin_port(), "/status").body);
    const auto& web = status.at("pools").at("web");
    if (web.at("source").as_string() != "dns" || !web.at("discovery").at("last_update").is_int64())
      return false;
    for (const auto& b : web.at("backends").as_array())
      if (b.at("address").as_string() == resolved) return true;
    return false;
  }));
  // localhost may also resolve to ::1, where nothing listens: that try fails over to 127.0.0.1.
  for (int i = 0; i < 10; ++i)
    CHECK(http_get(proxy.port(), "/").status == 200);
  auto metrics = http_get(proxy.admin_port(), "/metrics").body;
  CHECK(
      metrics.find(R"(tally_discovery_updates_total{pool="web",result="success",source="dns"})") !=
      std::string::npos);
}

}  // namespace
}  // namespace tally::test
