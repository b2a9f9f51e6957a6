#include "http/header_rewrite.hpp"

#include "http/header_arena.hpp"

#include <array>
#include <charconv>
#include <cstring>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace tally::proxy {

namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

// Fields named in the Connection header (RFC 9110 §7.6.1). A few at most in practice; more
// than fit here are looked up in every Connection field of the message by a slow path.
struct connection_tokens {
  std::array<std::string_view, 8> names;
  std::size_t count = 0;
  bool overflow = false;

  void add_list(std::string_view value) {
    for (auto token : http::token_list{value}) {
      if (iequals(token, "close") || iequals(token, "keep-alive") || iequals(token, "upgrade"))
        continue;
      if (count < names.size())
        names[count++] = token;
      else
        overflow = true;
    }
  }
  template <class Fields>
  bool names_field(std::string_view name, const Fields& f) const {
    for (std::size_t i = 0; i < count; ++i)
      if (iequals(names[i], name)) return true;
    if (!overflow) return false;
    for (const auto& field : f)
      if (field.name() == http::field::connection && http::token_list{field.value()}.exists(name))
        return true;
    return false;
  }
};

// Appends the values of every field `match` accepts, each followed by ", ": previous hops'
// lists, in order (several fields of one name form one list).
template <class Fields, class Match>
void append_lists(std::string& out, const Fields& f, Match match) {
  for (const auto& field : f)
    if (match(field)) out.append(field.value()).append(", ");
}

bool is_forwarded_for(const auto& field) {
  return field.name() == http::field::unknown && iequals(field.name_string(), "x-forwarded-for");
}

bool is_via(const auto& field) {
  return field.name() == http::field::via;
}

// Framing and identity fields a Connection header may never remove.
bool protected_field(http::field f) {
  return f == http::field::content_length || f == http::field::transfer_encoding ||
         f == http::field::host;
}

bool hop_by_hop(http::field f, bool keep_upgrade) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
      return true;
    case http::field::upgrade:
      return !keep_upgrade;
    default:
      return false;
  }
}

// "name: value\r\n" in one growth of `out` instead of four appends.
void append_field(std::string& out, std::string_view name, std::string_view value) {
  const auto at = out.size();
  out.resize(at + name.size() + value.size() + 4);
  char* p = out.data() + at;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  std::memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p = '\n';
}

// "5, 5" (or one of several identical fields): the parser checked every value is the same.
std::string_view first_value(std::string_view list) {
  list = list.substr(0, list.find(','));
  while (!list.empty() && (list.back() == ' ' || list.back() == '\t'))
    list.remove_suffix(1);
  return list;
}

template <class Fields>
connection_tokens tokens_of(const Fields& f) {
  connection_tokens tokens;
  for (const auto& field : f)
    if (field.name() == http::field::connection) tokens.add_list(field.value());
  return tokens;
}

}  // namespace

template <class Fields>
void serialize_upstream_request(std::string& out, const http::header<true, Fields>& req,
                                const forward_context& ctx) {
  out.clear();
  out.append(req.method_string())
      .append(" ")
      .append(ctx.target.empty() ? std::string_view(req.target()) : ctx.target)
      .append(" HTTP/1.1\r\n");
  const auto tokens = tokens_of(req);
  std::string_view host;
  bool content_length_sent = false;
  bool has_forwarded_for = false, has_via = false;
  for (const auto& field : req) {
    auto id = field.name();
    if (hop_by_hop(id, ctx.upgrade)) continue;
    auto name = field.name_string();
    if (!protected_field(id) && tokens.count + tokens.overflow > 0 && tokens.names_field(name, req))
      continue;
    if (id == http::field::host) {
      host = ctx.host.empty() ? std::string_view(field.value()) : ctx.host;
      append_field(out, name, host);
      continue;
    }
    if (id == http::field::content_length) {
      if (!content_length_sent) append_field(out, name, first_value(field.value()));
      content_length_sent = true;
      continue;
    }
    if (id == http::field::via) {
      has_via = true;
      continue;
    }
    if (id == http::field::unknown) {
      if (iequals(name, "x-forwarded-for")) {
        has_forwarded_for = true;
        continue;
      }
      if (iequals(name, "x-forwarded-proto") || iequals(name, "x-forwarded-host") ||
          iequals(name, "x-request-id"))
        continue;
    }
    append_field(out, name, field.value());
  }
  if (host.empty() && !ctx.host.empty()) {
    host = ctx.host;  // an HTTP/1.0 absolute-form request without Host
    append_field(out, "Host", host);
  }
  if (ctx.upgrade) out.append("Connection: upgrade\r\n");
  out.append("X-Forwarded-For: ");
  if (has_forwarded_for) append_lists(out, req, [](const auto& f) { return is_forwarded_for(f); });
  out.append(ctx.client_ip)
      .append(ctx.secure ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n");
  if (!host.empty()) append_field(out, "X-Forwarded-Host", host);
  out.append("Via: ");
  if (has_via) append_lists(out, req, [](const auto& f) { return is_via(f); });
  out.append(ctx.client_version == 10 ? "1.0 tally\r\n" : "1.1 tally\r\n");
  append_field(out, "X-Request-Id", ctx.request_id);
  out.append("\r\n");
}

template <class Fields>
void serialize_downstream_response(std::string& out, const http::header<false, Fields>& res,
                                   const response_context& ctx) {
  out.clear();
  out.append(ctx.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char code[4];
  auto n = std::to_chars(code, code + sizeof code, res.result_int()).ptr - code;
  out.append(code, static_cast<std::size_t>(n)).append(" ");
  auto reason = res.reason();
  out.append(reason.empty() ? http::obsolete_reason(res.result()) : reason).append("\r\n");

  const auto tokens = tokens_of(res);
  bool has_via = false;
  bool content_length_sent = false;
  for (const auto& field : res) {
    auto id = field.name();
    if (hop_by_hop(id, ctx.upgrade)) continue;
    if (id == http::field::transfer_encoding &&
        ctx.framing == response_body_framing::remove_chunked)
      continue;
    auto name = field.name_string();
    if (!protected_field(id) && tokens.count + tokens.overflow > 0 && tokens.names_field(name, res))
      continue;
    if (id == http::field::content_length) {
      if (!content_length_sent) append_field(out, name, first_value(field.value()));
      content_length_sent = true;
      continue;
    }
    if (id == http::field::via) {
      has_via = true;
      continue;
    }
    append_field(out, name, field.value());
  }
  if (ctx.framing == response_body_framing::add_chunked)
    out.append("Transfer-Encoding: chunked\r\n");
  if (ctx.upgrade)
    out.append("Connection: upgrade\r\n");
  else if (ctx.version == 10 && ctx.keep_alive)
    out.append("Connection: keep-alive\r\n");
  else if (ctx.version != 10 && !ctx.keep_alive)
    out.append("Connection: close\r\n");
  out.append("Via: ");
  if (has_via) append_lists(out, res, [](const auto& f) { return is_via(f); });
  out.append("1.1 tally\r\n\r\n");
}

template <class Fields>
bool wants_upgrade(const Fields& f) {
  bool has_upgrade = false, connection_upgrade = false;
  for (const auto& field : f) {
    if (field.name() == http::field::upgrade) {
      // HTTP/2 over cleartext is not tunnelled: tally would relay a protocol it cannot see
      // into. The request goes on as plain HTTP/1.1, its Upgrade and HTTP2-Settings removed.
      if (http::token_list{field.value()}.exists("h2c")) return false;
      has_upgrade = true;
    }
    if (field.name() == http::field::connection &&
        http::token_list{field.value()}.exists("upgrade"))
      connection_upgrade = true;
  }
  return has_upgrade && connection_upgrade;
}

// The proxy's arena-allocated fields, and Beast's default fields (tests, tools).
using arena_fields = http::basic_fields<arena_allocator<char>>;
template void serialize_upstream_request(std::string&, const http::header<true, http::fields>&,
                                         const forward_context&);
template void serialize_upstream_request(std::string&, const http::header<true, arena_fields>&,
                                         const forward_context&);
template void serialize_downstream_response(std::string&, const http::header<false, http::fields>&,
                                            const response_context&);
template void serialize_downstream_response(std::string&, const http::header<false, arena_fields>&,
                                            const response_context&);
template bool wants_upgrade(const http::fields&);
template bool wants_upgrade(const arena_fields&);
template bool wants_upgrade(const http::header<true, http::fields>&);
template bool wants_upgrade(const http::header<true, arena_fields>&);

bool valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace tally::proxy
