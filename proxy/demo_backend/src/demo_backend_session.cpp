// demo_backend_session: one connection of a demo_backend, as one linear co_await loop.
#include "demo_backend_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string_view>

namespace tally::proxy::detail {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t max_header_bytes = std::size_t{16} * 1024;
constexpr std::uint64_t max_delay_ms = std::uint64_t{10} * 60 * 1000;

// One 64 KiB piece of the /bytes pattern. Its period (256) divides the piece size, so every
// piece of a response is a prefix of this same block.
const std::array<char, demo_backend_session::piece_size>& pattern_piece() {
  static const auto piece = [] {
    std::array<char, demo_backend_session::piece_size> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = demo_backend::pattern_byte(i);
    return bytes;
  }();
  return piece;
}

// "/prefix/123" → 123 when `path` starts with `prefix` and the rest is all digits.
std::optional<std::uint64_t> number_after(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  const auto digits = path.substr(prefix.size());
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size())
    return std::nullopt;
  return value;
}

bool query_has(std::string_view query, std::string_view pair) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    if (query.substr(0, amp) == pair) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

bool has_no_body(http::status status) {
  return http::to_status_class(status) == http::status_class::informational ||
         status == http::status::no_content || status == http::status::not_modified;
}

}  // namespace

demo_backend_session::demo_backend_session(std::shared_ptr<demo_backend_state> state,
                                           net::ip::tcp::socket socket)
    : state_(std::move(state)), stream_(std::move(socket)), timer_(stream_.get_executor()) {
  // Beast sizes each read by the buffer's spare capacity (at least 512 bytes); a buffer that
  // starts empty would stream bodies 512 bytes per system call.
  buffer_.reserve(piece_size);
}

void demo_backend_session::close() {
  timer_.cancel();
  boost::system::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void demo_backend_session::release_hold() {
  if (!holding_) return;
  hold_released_ = true;
  timer_.cancel();
}

net::awaitable<void> demo_backend_session::run(std::shared_ptr<demo_backend_session> self) {
  while (co_await self->serve_one()) {
  }
  boost::system::error_code ignored;
  self->stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  self->stream_.close();

  std::lock_guard lock(self->state_->mutex);
  std::erase_if(self->state_->sessions, [&](const auto& entry) {
    auto session = entry.second.lock();
    return !session || session == self;
  });
}

// Reads one request and answers it; true when the connection should carry another one.
net::awaitable<bool> demo_backend_session::serve_one() {
  parser_type parser;
  parser.header_limit(max_header_bytes);
  parser.body_limit(boost::none);  // /sink takes bodies of any size; they are never stored

  stream_.expires_after(io_timeout);
  auto [ec, n] = co_await http::async_read_header(stream_, buffer_, parser, use_tuple);
  // End of stream, timeout, close() or a malformed request: nothing useful left to say.
  if (ec) co_return false;

  const auto& req = parser.get();
  state_->stats.requests.fetch_add(1, std::memory_order_relaxed);
  {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& field : req)
      headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    std::lock_guard lock(state_->mutex);
    state_->last_headers = std::move(headers);
  }

  const std::string_view target = req.target();
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  const auto query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

  body_summary body;
  if (!co_await read_body(parser, body, path == "/sink")) co_return false;
  co_return co_await answer(parser, path, query, body);
}

// The response to a request whose body was read, by path (the endpoints of demo_backend.hpp).
net::awaitable<bool> demo_backend_session::answer(parser_type& parser, std::string_view path,
                                                  std::string_view query,
                                                  const body_summary& body) {
  const auto& req = parser.get();
  const bool keep_alive = req.keep_alive();
  const std::string greeting = state_->name + "\n";

  if (path == "/healthz") {
    const bool healthy = state_->healthy.load(std::memory_order_relaxed);
    co_return co_await write_text(parser,
                                  healthy ? http::status::ok : http::status::service_unavailable,
                                  healthy ? "ok\n" : "unhealthy\n", keep_alive);
  }
  if (auto size = number_after(path, "/bytes/"))
    co_return co_await write_pattern(parser, *size, query_has(query, "chunked=1"));
  if (path == "/sink" && (req.method() == http::verb::post || req.method() == http::verb::put)) {
    char text[80];
    std::snprintf(text, sizeof text, "bytes=%llu fnv=%016llx\n",
                  static_cast<unsigned long long>(body.bytes),
                  static_cast<unsigned long long>(body.fnv));
    co_return co_await write_text(parser, http::status::ok, text, keep_alive);
  }
  if (path == "/headers") {
    std::string text;
    for (const auto& field : req) {
      text.append(field.name_string()).append(": ").append(field.value()).append("\n");
    }
    co_return co_await write_text(parser, http::status::ok, std::move(text), keep_alive);
  }
  if (auto delay = number_after(path, "/delay/")) {
    timer_.expires_after(std::chrono::milliseconds(std::min(*delay, max_delay_ms)));
    auto [timer_ec] = co_await timer_.async_wait(use_tuple);
    if (timer_ec) co_return false;  // cancelled by close()
    co_return co_await write_text(parser, http::status::ok, greeting, keep_alive);
  }
  if (path == "/hold") {
    holding_ = true;
    hold_released_ = false;
    state_->stats.held.fetch_add(1, std::memory_order_relaxed);
    timer_.expires_after(io_timeout);  // a test that forgets to release still ends
    auto [timer_ec] = co_await timer_.async_wait(use_tuple);
    holding_ = false;
    state_->stats.held.fetch_sub(1, std::memory_order_relaxed);
    if (timer_ec && !hold_released_) co_return false;  // cancelled by close()
    co_return co_await write_text(parser, http::status::ok, greeting, keep_alive);
  }
  if (auto code = number_after(path, "/status/")) {
    // Interim (1xx) answers would leave the client waiting for a final one: refuse them.
    if (*code < 200 || *code > 599)
      co_return co_await write_text(parser, http::status::bad_request, "bad status\n", keep_alive);
    co_return co_await write_text(parser, static_cast<http::status>(*code), greeting, keep_alive);
  }
  if (path == "/close") co_return co_await write_text(parser, http::status::ok, greeting, false);
  co_return co_await write_text(parser, http::status::ok, greeting, keep_alive);
}

// Streams the request body through one 64 KiB buffer, counting it and, for /sink, hashing it.
net::awaitable<bool> demo_backend_session::read_body(parser_type& parser, body_summary& summary,
                                                     bool hash) {
  const auto& req = parser.get();
  if (!parser.is_done() && beast::iequals(req[http::field::expect], "100-continue")) {
    http::response<http::empty_body> proceed{http::status::continue_, req.version()};
    stream_.expires_after(io_timeout);
    auto [ec, n] = co_await http::async_write(stream_, proceed, use_tuple);
    if (ec) co_return false;
  }
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = body_buffer_.data();
    body.size = body_buffer_.size();
    stream_.expires_after(io_timeout);
    auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, use_tuple);
    // need_buffer only means our buffer is full: consume it and go round again.
    if (ec && ec != http::error::need_buffer) co_return false;
    const std::size_t got = body_buffer_.size() - parser.get().body().size;
    summary.bytes += got;
    if (hash) summary.fnv = demo_backend::fnv1a(summary.fnv, body_buffer_.data(), got);
  }
  co_return true;
}

net::awaitable<bool> demo_backend_session::write_text(const parser_type& parser,
                                                      http::status status, std::string body,
                                                      bool keep_alive) {
  const auto& req = parser.get();
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "tally-demo");
  res.set("X-Backend", state_->name);
  res.set(http::field::content_type, "text/plain");
  res.keep_alive(keep_alive);
  if (has_no_body(status)) {
    res.content_length(boost::none);  // 204 and 304 must carry neither body nor length
  } else {
    res.body() = std::move(body);
    res.prepare_payload();
  }

  http::response_serializer<http::string_body> serializer{res};
  stream_.expires_after(io_timeout);
  auto [ec, n] = req.method() == http::verb::head
                     ? co_await http::async_write_header(stream_, serializer, use_tuple)
                     : co_await http::async_write(stream_, serializer, use_tuple);
  co_return !ec && keep_alive;
}

// Sends `size` pattern bytes in 64 KiB pieces, with Content-Length or chunked framing.
net::awaitable<bool> demo_backend_session::write_pattern(const parser_type& parser,
                                                         std::uint64_t size, bool chunked) {
  const auto& req = parser.get();
  const bool keep_alive = req.keep_alive();
  http::response<http::buffer_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "tally-demo");
  res.set("X-Backend", state_->name);
  res.set(http::field::content_type, "application/octet-stream");
  res.keep_alive(keep_alive);
  // HTTP/1.0 has no chunked framing; its clients get a Content-Length instead.
  if (chunked && req.version() >= 11)
    res.chunked(true);
  else
    res.content_length(size);

  http::response_serializer<http::buffer_body> serializer{res};
  stream_.expires_after(io_timeout);
  auto [ec, n] = co_await http::async_write_header(stream_, serializer, use_tuple);
  if (ec) co_return false;
  if (req.method() == http::verb::head) co_return keep_alive;

  const auto& piece = pattern_piece();
  for (std::uint64_t left = size; left > 0;) {
    const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(left, piece.size()));
    // The serializer never writes through this pointer; buffer_body just isn't const-aware.
    res.body().data = const_cast<char*>(piece.data());
    res.body().size = count;
    res.body().more = true;
    stream_.expires_after(io_timeout);
    std::tie(ec, n) = co_await http::async_write(stream_, serializer, use_tuple);
    if (ec && ec != http::error::need_buffer) co_return false;
    left -= count;
  }
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = false;
  stream_.expires_after(io_timeout);
  std::tie(ec, n) = co_await http::async_write(stream_, serializer, use_tuple);
  co_return !ec && keep_alive;
}

}  // namespace tally::proxy::detail
