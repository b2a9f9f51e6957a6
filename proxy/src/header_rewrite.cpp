#include "header_rewrite.hpp"

#include <array>
#include <string>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace tally::proxy {

namespace http = boost::beast::http;

namespace {

// Hop-by-hop fields of RFC 9110 §7.6.1 plus the legacy Proxy-Connection. Transfer-Encoding is
// handled by the framing, Upgrade separately.
constexpr std::array hop_by_hop{http::field::connection, http::field::keep_alive,
                                http::field::proxy_connection, http::field::te,
                                http::field::trailer};

void append_list(http::fields& f, std::string_view name, std::string_view value) {
  auto it = f.find(name);
  if (it == f.end()) {
    f.insert(name, value);
    return;
  }
  std::string joined;
  joined.reserve(it->value().size() + 2 + value.size());
  joined.append(it->value()).append(", ").append(value);
  // Several fields with the same name are one list (RFC 9110 §5.3): fold them into one.
  f.erase(name);
  f.insert(name, joined);
}

}  // namespace

bool wants_upgrade(const http::fields& f) {
  auto conn = f.find(http::field::connection);
  if (conn == f.end() || f.find(http::field::upgrade) == f.end()) return false;
  return http::token_list{conn->value()}.exists("upgrade");
}

void strip_hop_by_hop(http::fields& f, bool keep_upgrade) {
  // Fields named in Connection go first (the Connection header itself is removed below).
  for (auto it = f.find(http::field::connection);
       it != f.end() && it->name() == http::field::connection;) {
    for (auto token : http::token_list{it->value()}) {
      if (keep_upgrade && boost::beast::iequals(token, "upgrade")) continue;
      if (boost::beast::iequals(token, "close") || boost::beast::iequals(token, "keep-alive"))
        continue;
      // Never let a client strip framing or the headers we add through Connection.
      if (boost::beast::iequals(token, "content-length") ||
          boost::beast::iequals(token, "transfer-encoding") ||
          boost::beast::iequals(token, "host") || boost::beast::iequals(token, "connection"))
        continue;
      f.erase(token);
    }
    ++it;
  }
  for (auto name : hop_by_hop)
    f.erase(name);
  if (!keep_upgrade) f.erase(http::field::upgrade);
}

void rewrite_request_headers(http::fields& f, const forward_context& ctx) {
  strip_hop_by_hop(f, ctx.upgrade);
  if (ctx.upgrade) f.set(http::field::connection, "upgrade");
  append_list(f, "X-Forwarded-For", ctx.client_ip);
  f.set("X-Forwarded-Proto", "http");
  if (auto host = f.find(http::field::host); host != f.end()) {
    f.set("X-Forwarded-Host", host->value());
  }
  append_list(f, "Via", ctx.client_version == 10 ? "1.0 tally" : "1.1 tally");
  f.set("X-Request-Id", ctx.request_id);
}

void rewrite_response_headers(http::fields& f, bool upgrade) {
  strip_hop_by_hop(f, upgrade);
  if (upgrade) f.set(http::field::connection, "upgrade");
  append_list(f, "Via", "1.1 tally");
}

bool valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace tally::proxy
