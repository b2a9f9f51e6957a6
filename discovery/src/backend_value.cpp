#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "tally/config/load.hpp"
#include "tally/discovery/discovered_backend.hpp"

namespace tally::discovery {

namespace json = boost::json;

std::optional<discovered_backend> parse_backend_value(std::string_view text, std::string& problem) {
  constexpr std::string_view example = R"(; write {"address": "10.0.0.5:8000", "weight": 2})";
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    problem = "the value is not a JSON object" + std::string(example);
    return std::nullopt;
  }
  const auto& obj = v.get_object();
  const auto* address = obj.if_contains("address");
  if (!address || !address->is_string()) {
    problem = "the value has no \"address\" string" + std::string(example);
    return std::nullopt;
  }
  auto hp = config::parse_host_port(address->get_string());
  if (!hp || hp->port == 0) {
    problem = "\"address\" " + std::string(address->get_string()) +
              " is not host:port with a port from 1 to 65535";
    return std::nullopt;
  }
  discovered_backend b{std::move(*hp), 1, {}};
  if (const auto* weight = obj.if_contains("weight")) {
    if (!weight->is_int64() && !weight->is_uint64()) {
      problem = "\"weight\" must be a whole number from 0 to 1000";
      return std::nullopt;
    }
    auto n = weight->is_int64() ? weight->get_int64() : static_cast<std::int64_t>(-1);
    if (n < 0 || n > 1000) {
      problem = "\"weight\" must be a whole number from 0 to 1000";
      return std::nullopt;
    }
    b.weight = static_cast<std::uint32_t>(n);
  }
  return b;
}

}  // namespace tally::discovery
