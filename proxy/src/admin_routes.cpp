#include "admin_routes.hpp"

#include <boost/json/serialize.hpp>

#include "status_json.hpp"

namespace tally::proxy {

namespace json = boost::json;

namespace {

// Compares without an early exit, so response time does not reveal how much of a guess matched.
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

bool needs_token(const admin_request& req, std::string_view path) {
  auto m = req.method();
  return m == http::verb::post || m == http::verb::put || m == http::verb::delete_ ||
         path.rfind("/cluster/", 0) == 0;
}

}  // namespace

bool admin_routes::authorized(const admin_request& req) const {
  const auto& token = ctx_.snapshots.load()->cfg->admin_token;
  if (token.empty()) return true;
  auto auth = req[http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (auth.size() <= scheme.size() || !beast::iequals(auth.substr(0, scheme.size()), scheme))
    return false;
  return constant_time_equal(auth.substr(scheme.size()), token);
}

net::awaitable<admin_response> admin_routes::handle(const admin_request& req) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (needs_token(req, path) && !authorized(req)) {
    auto res = make_admin_response(
        req, http::status::unauthorized,
        "missing or wrong admin token: send \"Authorization: Bearer <admin.token>\"\n",
        "text/plain");
    res.set(http::field::www_authenticate, "Bearer");
    co_return res;
  }

  if (path == "/healthz" && get)
    co_return make_admin_response(req, http::status::ok, "ok\n", "text/plain");
  if (path == "/readyz" && get) {
    bool ready = ctx_.ready();
    co_return make_admin_response(req, ready ? http::status::ok : http::status::service_unavailable,
                                  ready ? "ready\n" : "draining\n", "text/plain");
  }
  if (path == "/status" && get) {
    status_extras extras{ctx_.ready(), ctx_.proxy.connections(), ctx_.proxy.active_requests()};
    auto body = json::serialize(build_status(*ctx_.snapshots.load(), extras));
    body.push_back('\n');
    co_return make_admin_response(req, http::status::ok, std::move(body), "application/json");
  }
  if (path == "/metrics" && get)
    co_return make_admin_response(req, http::status::ok, ctx_.registry.scrape(),
                                  "text/plain; version=0.0.4; charset=utf-8");
  if (path == "/reload" && req.method() == http::verb::post) {
    auto errors = co_await ctx_.reload();
    json::object o;
    o["ok"] = errors.empty();
    if (!errors.empty()) o["errors"] = errors;
    co_return make_admin_response(req,
                                  errors.empty() ? http::status::ok : http::status::bad_request,
                                  json::serialize(o) + "\n", "application/json");
  }
  if (path == "/healthz" || path == "/readyz" || path == "/status" || path == "/reload" ||
      path == "/metrics")
    co_return make_admin_response(req, http::status::method_not_allowed, "method not allowed\n",
                                  "text/plain");
  co_return make_admin_response(req, http::status::not_found,
                                "unknown admin endpoint; try /status, /healthz, /readyz\n",
                                "text/plain");
}

}  // namespace tally::proxy
