#include "http/request_target.hpp"

#include <boost/url/parse.hpp>

namespace tally::proxy {

bool request_path(std::string_view target, std::string_view& host, std::string_view& path) {
  if (!target.empty() && target.front() == '/') {
    path = target.substr(0, target.find('?'));
    return true;
  }
  if (target == "*") {
    path = target;
    return true;
  }
  auto url = boost::urls::parse_absolute_uri(target);
  if (!url) return false;
  if (url->has_authority()) host = url->encoded_host();
  path = url->encoded_path();
  if (path.empty()) path = "/";
  return true;
}

}  // namespace tally::proxy
