#include "routing/resolve_address.hpp"

#include <string>

#include <boost/asio/io_context.hpp>

namespace tally::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;

tcp::endpoint resolve_address(const config::host_port& hp, boost::system::error_code& ec) {
  ec = {};
  auto ip = net::ip::make_address(hp.host, ec);
  if (!ec) return {ip, hp.port};
  net::io_context ctx;
  tcp::resolver resolver(ctx);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec) return {};
  if (results.empty()) {
    ec = net::error::host_not_found;
    return {};
  }
  return results.begin()->endpoint();
}

}  // namespace tally::proxy
