#include "admin/admin_routes.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "admin/status_json.hpp"
#include "tally/cluster/peer_auth.hpp"

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

// POST /pools/{pool}/backends/{address}/drain | enable, PUT .../weight {"weight": N}.
admin_response admin_routes::backend_mutation(const admin_request& req, std::string_view path) {
  auto text = [&](http::status s, std::string body) {
    return make_admin_response(req, s, std::move(body) + "\n", "text/plain");
  };
  auto url = boost::urls::parse_origin_form(path);
  if (!url) return text(http::status::bad_request, "malformed path");
  std::vector<std::string> seg;
  for (auto s : url->segments())
    seg.push_back(s);  // percent-decoded ("127.0.0.1%3A9001" works)
  if (seg.size() != 5 || seg[0] != "pools" || seg[2] != "backends")
    return text(http::status::not_found,
                "unknown admin endpoint; use /pools/{pool}/backends/{address}/drain|enable|weight");
  const auto& pool = seg[1];
  const auto& address = seg[3];
  const auto& action = seg[4];
  auto method = req.method();
  std::optional<cluster::admin_mutation> m;
  if (action == "drain" && method == http::verb::post) m = cluster::admin_mutation::drain();
  if (action == "enable" && method == http::verb::post) m = cluster::admin_mutation::enable();
  if (action == "weight" && method == http::verb::put) {
    boost::system::error_code ec;
    auto body = json::parse(req.body(), ec);
    const json::value* w =
        !ec && body.is_object() ? body.as_object().if_contains("weight") : nullptr;
    if (!w || !w->is_int64() || w->as_int64() < 0 || w->as_int64() > 1000)
      return text(http::status::bad_request,
                  "body must be JSON like {\"weight\": 3} with a whole number from 0 to 1000");
    m = cluster::admin_mutation::weight(static_cast<std::uint32_t>(w->as_int64()));
  }
  if (!m) {
    if (action == "drain" || action == "enable" || action == "weight")
      return text(http::status::method_not_allowed,
                  "use POST for drain and enable, PUT for weight");
    return text(http::status::not_found,
                "unknown action \"" + action + "\"; use drain, enable or weight");
  }
  if (!ctx_.cluster.apply_admin_change(pool, address, *m))
    return text(http::status::not_found,
                "no backend " + address + " in pool " + pool + " (see GET /status)");
  json::object o;
  o["pool"] = pool;
  o["backend"] = address;
  o["action"] = action;
  if (action == "weight") o["weight"] = m->value;
  return make_admin_response(req, http::status::ok, json::serialize(o) + "\n", "application/json");
}

bool admin_routes::authorized(const admin_request& req) const {
  const auto& token = ctx_.snapshots.load()->cfg->admin_token;
  if (token.empty()) return true;
  auto auth = req[http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (auth.size() <= scheme.size() || !beast::iequals(auth.substr(0, scheme.size()), scheme))
    return false;
  return constant_time_equal(auth.substr(scheme.size()), token);
}

std::optional<admin_response> admin_routes::refuse_early(const admin_request& req) const {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (!needs_token(req, path) || authorized(req)) return std::nullopt;
  auto res = make_admin_response(
      req, http::status::unauthorized,
      "missing or wrong admin token: send \"Authorization: Bearer <admin.token>\"\n", "text/plain");
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

net::awaitable<admin_response> admin_routes::handle(const admin_request& req) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (auto refused = refuse_early(req)) co_return std::move(*refused);

  if (path == "/healthz" && get)
    co_return make_admin_response(req, http::status::ok, "ok\n", "text/plain");
  if (path == "/readyz" && get) {
    bool ready = ctx_.ready();
    co_return make_admin_response(req, ready ? http::status::ok : http::status::service_unavailable,
                                  ready ? "ready\n" : "draining\n", "text/plain");
  }
  if (path == "/status" && get) {
    status_extras extras{ctx_.ready(),
                         ctx_.proxy.connections(),
                         ctx_.proxy.active_requests(),
                         &ctx_.cluster,
                         ctx_.checkpoint_last_success_ms ? ctx_.checkpoint_last_success_ms() : 0,
                         ctx_.discovery_status ? ctx_.discovery_status() : json::object()};
    auto body = json::serialize(build_status(*ctx_.snapshots.load(), extras));
    body.push_back('\n');
    co_return make_admin_response(req, http::status::ok, std::move(body), "application/json");
  }
  if (path == "/cluster/votes" && req.method() == http::verb::post) {
    auto reply = ctx_.cluster.handle_votes(req.body(), req[cluster::signature_header]);
    co_return make_admin_response(req, static_cast<http::status>(reply.status),
                                  std::move(reply.body), "application/json");
  }
  if (path == "/cluster/checkpoint" && get)
    co_return make_admin_response(req, http::status::ok, ctx_.checkpoint_bytes(),
                                  "application/json");
  if (path.rfind("/pools/", 0) == 0) {
    auto res = backend_mutation(req, path);
    if (res.result() == http::status::ok) ctx_.state_changed();
    co_return res;
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
