#include "tally/discovery/etcd_watcher.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "etcd_http.hpp"
#include "tally/common/use_tuple.hpp"

namespace tally::discovery {

namespace json = boost::json;
using namespace detail;
using error_code = boost::system::error_code;

namespace {

// One watch message larger than this is not something etcd sends for a pool's keys.
constexpr std::size_t max_line_bytes = std::size_t{64} * 1024 * 1024;

// etcd's JSON gateway writes int64 fields as strings ("revision": "42").
std::int64_t int_field(const json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_string()) {
    try {
      return std::stoll(std::string(v->get_string()));
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

const json::object* object_field(const json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::string string_field(const json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

enum class watch_end { failed, compacted, idle, stopped };

}  // namespace

struct etcd_watcher::state : std::enable_shared_from_this<state> {
  state(net::any_io_executor ex, etcd_watcher_options o)
      : executor(std::move(ex)), options(std::move(o)), timer(executor) {}

  net::any_io_executor executor;
  etcd_watcher_options options;
  net::steady_timer timer;
  beast::tcp_stream* live = nullptr;  // the connection in use, closed by stop()
  bool stopped = false;
  bool started = false;

  std::map<std::string, discovered_backend> keys;  // valid values only, by etcd key
  std::int64_t revision = 0;                       // of the last published set
  std::int64_t next_watch = 0;                     // the first revision not yet seen
  bool watch_created = false;

  void log(const std::string& m) const {
    if (options.log) options.log("discovery: etcd " + options.etcd.prefix + ": " + m);
  }
  void result(bool ok) const {
    if (options.on_result) options.on_result(ok);
  }
  void publish() {
    discovered_set set;
    set.revision = revision;
    std::set<std::string> seen;
    for (const auto& [key, b] : keys) {
      if (!seen.insert(b.address.text).second) {
        log("key " + key + " repeats address " + b.address.text + "; using the first key's");
        continue;
      }
      set.backends.push_back(b);
    }
    result(true);
    if (options.on_update) options.on_update(set);
  }
  // Applies a PUT; a value that is not a backend is logged and removes the key's old backend.
  void put(const std::string& key, std::string_view value) {
    std::string problem;
    if (auto b = parse_backend_value(value, problem)) {
      b->key = key;
      keys[key] = std::move(*b);
      return;
    }
    keys.erase(key);
    log("skipping key " + key + ": " + problem);
    result(false);
  }

  net::awaitable<void> run();
  net::awaitable<std::string> range(const config::host_port& endpoint);
  net::awaitable<watch_end> watch(const config::host_port& endpoint, std::string& error);
  watch_end handle_line(std::string_view line, std::string& error);
};

net::awaitable<std::string> etcd_watcher::state::range(const config::host_port& endpoint) {
  json::object req;
  req["key"] = base64_encode(options.etcd.prefix);
  req["range_end"] = base64_encode(prefix_range_end(options.etcd.prefix));
  beast::tcp_stream stream(executor);
  live = &stream;
  auto res = co_await post_json(stream, endpoint, "/v3/kv/range", json::serialize(req),
                                options.etcd.token, options.request_timeout);
  live = nullptr;
  if (stopped) co_return "stopped";
  if (!res.error.empty()) co_return res.error;
  error_code ec;
  auto v = json::parse(res.body, ec);
  if (ec || !v.is_object())
    co_return "etcd " + endpoint.text + " sent a range answer that is not JSON";
  const auto& obj = v.get_object();
  const auto* header = object_field(obj, "header");
  if (!header) co_return "etcd " + endpoint.text + " sent a range answer without a header";
  keys.clear();
  if (const auto* kvs = obj.if_contains("kvs"); kvs && kvs->is_array()) {
    for (const auto& kv : kvs->get_array()) {
      if (!kv.is_object()) continue;
      auto key = base64_decode(string_field(kv.get_object(), "key"));
      auto value = base64_decode(string_field(kv.get_object(), "value"));
      if (!key || !value) continue;
      put(*key, *value);
    }
  }
  revision = int_field(*header, "revision");
  next_watch = revision + 1;
  publish();
  co_return std::string();
}

// One line of the watch stream: {"result": {...}} or {"error": {...}}.
watch_end etcd_watcher::state::handle_line(std::string_view line, std::string& error) {
  error_code ec;
  auto v = json::parse(line, ec);
  if (ec || !v.is_object()) {
    error = "the watch sent a line that is not JSON";
    return watch_end::failed;
  }
  const auto& obj = v.get_object();
  if (const auto* err = object_field(obj, "error")) {
    error = "the watch failed: " + string_field(*err, "message");
    return watch_end::failed;
  }
  const auto* res = object_field(obj, "result");
  if (!res) return watch_end::idle;  // nothing to apply; keep reading (caller ignores idle here)
  if (const auto* c = res->if_contains("canceled"); c && c->is_bool() && c->get_bool()) {
    if (int_field(*res, "compact_revision") > 0) return watch_end::compacted;
    error = "etcd cancelled the watch: " + string_field(*res, "cancel_reason");
    return watch_end::failed;
  }
  if (const auto* c = res->if_contains("created"); c && c->is_bool() && c->get_bool()) {
    watch_created = true;
    return watch_end::idle;
  }
  const auto* header = object_field(*res, "header");
  const auto* events = res->if_contains("events");
  if (!events || !events->is_array() || events->get_array().empty()) {
    // A progress notification: everything up to the header's revision has been sent.
    if (header) next_watch = std::max(next_watch, int_field(*header, "revision") + 1);
    return watch_end::idle;
  }
  for (const auto& e : events->get_array()) {
    if (!e.is_object()) continue;
    const auto* kv = object_field(e.get_object(), "kv");
    if (!kv) continue;
    auto key = base64_decode(string_field(*kv, "key"));
    if (!key) continue;
    next_watch = std::max(next_watch, int_field(*kv, "mod_revision") + 1);
    if (string_field(e.get_object(), "type") == "DELETE") {
      keys.erase(*key);
    } else if (auto value = base64_decode(string_field(*kv, "value"))) {
      put(*key, *value);
    }
  }
  revision = next_watch - 1;
  publish();
  return watch_end::idle;
}

net::awaitable<watch_end> etcd_watcher::state::watch(const config::host_port& endpoint,
                                                     std::string& error) {
  json::object create;
  create["key"] = base64_encode(options.etcd.prefix);
  create["range_end"] = base64_encode(prefix_range_end(options.etcd.prefix));
  create["start_revision"] = next_watch;
  create["progress_notify"] = true;
  json::object req;
  req["create_request"] = std::move(create);

  beast::tcp_stream stream(executor);
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  live = &stream;
  struct clear_live {
    state* s;
    ~clear_live() { s->live = nullptr; }
  } guard{this};
  error = co_await open_stream(stream, endpoint, "/v3/watch", json::serialize(req),
                               options.etcd.token, options.request_timeout, buffer, parser);
  if (stopped) co_return watch_end::stopped;
  if (!error.empty()) co_return watch_end::failed;

  std::string pending;
  char chunk[16 * 1024];
  for (;;) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    stream.expires_after(options.watch_idle);
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
    if (stopped) co_return watch_end::stopped;
    if (ec == http::error::need_buffer) ec = {};
    if (ec == beast::error::timeout) co_return watch_end::idle;
    if (ec) {
      error = "etcd " + endpoint.text + ": the watch stream broke: " + ec.message();
      co_return watch_end::failed;
    }
    pending.append(chunk, sizeof chunk - parser.get().body().size);
    std::size_t start = 0;
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      auto line = std::string_view(pending).substr(start, nl - start);
      start = nl + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      auto end = handle_line(line, error);
      if (end != watch_end::idle) co_return end;
    }
    pending.erase(0, start);
    if (pending.size() > max_line_bytes) {
      error = "etcd " + endpoint.text + ": a watch message is over 64 MiB";
      co_return watch_end::failed;
    }
    if (parser.is_done()) {
      error = "etcd " + endpoint.text + " ended the watch stream";
      co_return watch_end::failed;
    }
  }
}

net::awaitable<void> etcd_watcher::state::run() {
  auto self = shared_from_this();  // the coroutine keeps the state alive past the watcher
  const auto& endpoints = options.etcd.endpoints;
  std::size_t current = 0;
  auto backoff = options.backoff_initial;
  bool need_range = true;
  if (options.resume) {
    for (const auto& b : options.resume->backends)
      keys[b.key] = b;
    revision = options.resume->revision;
    next_watch = revision + 1;
    need_range = false;
  }
  while (!stopped) {
    const auto& endpoint = endpoints[current];
    std::string error;
    if (need_range) {
      error = co_await range(endpoint);
      if (stopped) co_return;
      if (error.empty()) need_range = false;
    }
    if (error.empty()) {
      watch_created = false;
      auto end = co_await watch(endpoint, error);
      if (stopped || end == watch_end::stopped) co_return;
      if (watch_created) backoff = options.backoff_initial;
      if (end == watch_end::compacted) {
        log("revision " + std::to_string(next_watch) + " was compacted; reading the whole prefix");
        need_range = true;
        continue;
      }
      if (end == watch_end::idle) continue;  // reopen from next_watch at once
    }
    log(error + "; keeping the last known " + std::to_string(keys.size()) +
        " backends, retrying in " + std::to_string(backoff.count()) + "ms");
    result(false);
    current = (current + 1) % endpoints.size();
    timer.expires_after(backoff);
    co_await timer.async_wait(use_tuple);
    backoff = std::min(backoff * 2, options.backoff_max);
  }
}

etcd_watcher::etcd_watcher(net::any_io_executor executor, etcd_watcher_options options)
    : state_(std::make_shared<state>(std::move(executor), std::move(options))) {}

etcd_watcher::~etcd_watcher() {
  // cancel() throws only when the reactor itself failed; a destructor has nobody to tell.
  try {
    stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch)
  }
}

void etcd_watcher::start() {
  if (state_->started || state_->options.etcd.endpoints.empty()) return;
  state_->started = true;
  net::co_spawn(state_->executor, state_->run(), net::detached);
}

void etcd_watcher::stop() {
  state_->stopped = true;
  state_->timer.cancel();
  if (state_->live) state_->live->cancel();
}

}  // namespace tally::discovery
