// A real etcd (Debian's etcd-server) for one test: 127.0.0.1 with unused client and peer ports
// and a temporary data dir, ready once its gateway answers a range read. kill() and start()
// again keep the ports and the data, as a crashed and restarted member would.
#pragma once

#include <csignal>
#include <memory>
#include <string>

#include <doctest/doctest.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "tally/discovery/etcd_watcher.hpp"

namespace tally::test {

class etcd_server {
 public:
  etcd_server() : client_port_(unused_port()), peer_port_(unused_port()) { start(); }

  std::uint16_t port() const { return client_port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  config::host_port endpoint() const {
    auto text = "127.0.0.1:" + std::to_string(client_port_);
    return {"127.0.0.1", client_port_, text};
  }

  void start() {
    auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    process_ = std::make_unique<child_process>(std::vector<std::string>{
        "etcd", "--name", "test", "--data-dir", (dir_.path() / "data").string(),
        "--listen-client-urls", url(), "--advertise-client-urls", url(), "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer, "--initial-cluster", "test=" + peer, "--log-level",
        "error"});
    REQUIRE_MESSAGE(eventually([&] { return call("/v3/kv/range", R"({"key":"AA=="})").ok(); }),
                    process_->output());
  }
  void kill() {
    process_->send_signal(SIGKILL);
    process_->wait_exit();
    connection_.reset();
  }

  // The store revision after the write.
  std::int64_t put(const std::string& key, const std::string& value) {
    boost::json::object req;
    req["key"] = discovery::base64_encode(key);
    req["value"] = discovery::base64_encode(value);
    return revision_of(call("/v3/kv/put", boost::json::serialize(req)));
  }
  std::int64_t del(const std::string& key) {
    boost::json::object req;
    req["key"] = discovery::base64_encode(key);
    return revision_of(call("/v3/kv/deleterange", boost::json::serialize(req)));
  }
  void compact(std::int64_t revision) {
    boost::json::object req;
    req["revision"] = revision;
    req["physical"] = true;
    REQUIRE(call("/v3/kv/compaction", boost::json::serialize(req)).status == 200);
  }

 private:
  http_result call(const std::string& path, const std::string& body) {
    if (!connection_) connection_ = std::make_unique<http_connection>(client_port_, 5s);
    auto r = connection_->request("POST", path, {{"Content-Type", "application/json"}}, body);
    if (!r.ok() || r.closed) connection_.reset();
    return r;
  }
  static std::int64_t revision_of(const http_result& r) {
    REQUIRE_MESSAGE(r.status == 200, r.error << r.body);
    auto v = boost::json::parse(r.body);
    return std::stoll(std::string(v.at("header").at("revision").as_string()));
  }

  temp_dir dir_;
  std::uint16_t client_port_;
  std::uint16_t peer_port_;
  std::unique_ptr<child_process> process_;
  std::unique_ptr<http_connection> connection_;
};

}  // namespace tally::test
