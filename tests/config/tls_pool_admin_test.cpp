// `pools.NAME.tls` (TLS to the backends, with an optional mTLS client certificate) and
// `admin.tls`, with their files made at test time.
#include <doctest/doctest.h>

#include <string>

#include "tls_fixtures.hpp"

using namespace tally::config;
using namespace tally::config::test;

namespace {

// One pool whose `tls:` is `tls_value` (written after "    tls: ", on line 4, column 10).
std::string pool_with_tls(const std::string& tls_value) {
  return "pools:\n"
         "  web:\n"
         "    backends: [ { address: 127.0.0.1:9001 } ]\n"
         "    tls: " +
         tls_value +
         "\n"
         "routes: [ { pool: web } ]\n";
}

}  // namespace

TEST_CASE("pool tls: every key - CA bundle and client certificate read") {
  tls_dir d;
  d.make_certificate("ca", "Test CA");
  d.make_certificate("client", "lb.internal", "DNS:lb.internal");
  auto r = d.load(pool_with_tls(
      "{ verify: true, ca_file: ca.pem, sni: API.internal, cert: client.pem, key: client-key.pem, "
      "min_version: \"1.3\" }"));
  INFO("errors:" << d.joined(r.errors));
  REQUIRE(r.ok());
  REQUIRE(r.value->pools[0].tls);
  const auto& tls = *r.value->pools[0].tls;
  CHECK(tls.verify);
  CHECK(tls.ca_file == "ca.pem");
  CHECK(starts_with(tls.ca_pem, "-----BEGIN CERTIFICATE-----"));
  CHECK(tls.sni == "API.internal");
  CHECK(tls.min_version == tls_version::v1_3);
  REQUIRE(tls.client_certificate);
  CHECK(tls.client_certificate->cert_file == "client.pem");
  CHECK(tls.client_certificate->names == std::vector<std::string>{"lb.internal"});
  CHECK(contains(tls.client_certificate->key_pem, "PRIVATE KEY-----"));
  CHECK(r.warnings.empty());
}

TEST_CASE("pool tls: an empty section is TLS with the defaults - verify false alone") {
  {
    auto r = load(pool_with_tls("{}"));
    REQUIRE(r.ok());
    REQUIRE(r.value->pools[0].tls);
    const auto& tls = *r.value->pools[0].tls;
    CHECK(tls.verify);
    CHECK(tls.ca_file.empty());
    CHECK(tls.ca_pem.empty());
    CHECK(tls.sni.empty());
    CHECK_FALSE(tls.client_certificate);
    CHECK(tls.min_version == tls_version::v1_2);
  }
  {
    auto r = load(pool_with_tls("{ verify: false }"));
    REQUIRE(r.ok());
    CHECK_FALSE(r.value->pools[0].tls->verify);
  }
  {
    auto r = load(minimal_yaml);
    REQUIRE(r.ok());
    CHECK_FALSE(r.value->pools[0].tls);  // plain HTTP without the section
  }
}

TEST_CASE("pool tls errors: cert without key - bad ca_file - sni - verify false with ca_file") {
  tls_dir d;
  d.make_certificate("client", "lb.internal");
  d.write("empty.pem", "");
  {
    auto e = d.only_error(pool_with_tls("{ cert: client.pem }"));
    CHECK(e ==
          "t.yaml:4:18: pools.web.tls.cert needs pools.web.tls.key too: the client "
          "certificate (mTLS) and its private key go together");
  }
  {
    auto e = d.only_error(pool_with_tls("{ key: client-key.pem }"));
    CHECK(starts_with(e, "t.yaml:4:17: pools.web.tls.key needs pools.web.tls.cert too"));
  }
  {
    auto e = d.only_error(pool_with_tls("{ ca_file: empty.pem }"));
    CHECK(e == "t.yaml:4:21: tls ca_file \"" + d.path("empty.pem") +
                   "\": no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
  }
  {
    auto e = d.only_error(pool_with_tls("{ ca_file: nowhere.pem }"));
    CHECK(starts_with(e, "t.yaml:4:21: tls ca_file \"" + d.path("nowhere.pem") +
                             "\" cannot be read: No such file or directory"));
  }
  {
    auto e = d.only_error(pool_with_tls("{ cert: client.pem, key: client.pem }"));
    CHECK(starts_with(
        e, "t.yaml:4:35: tls key \"" + d.path("client.pem") + "\" holds no PEM private key"));
  }
  {
    auto e = d.only_error(pool_with_tls("{ sni: 10.0.0.1 }"));
    CHECK(e ==
          "t.yaml:4:17: pools.web.tls.sni must be a DNS name like api.internal, got "
          "\"10.0.0.1\" (an IP address is never sent as SNI)");
  }
  {
    auto e = d.only_error(pool_with_tls("{ verify: false, ca_file: client.pem }"));
    CHECK(starts_with(e, "t.yaml:4:36: pools.web.tls.ca_file has no effect with verify: false"));
  }
  {
    auto e = d.only_error(pool_with_tls("{ min_version: \"1.1\" }"));
    CHECK(contains(e, "pools.web.tls.min_version \"1.1\": TLS 1.0 and 1.1 are not supported"));
  }
  {
    auto e = d.only_error(pool_with_tls("{ verify: maybe }"));
    CHECK(e == "t.yaml:4:20: pools.web.tls.verify must be true or false, got \"maybe\"");
  }
  {
    auto e = d.only_error(pool_with_tls("{ ca: ca.pem }"));
    CHECK(e ==
          "t.yaml:4:12: unknown key \"ca\" in pools.web.tls; expected one of: verify, "
          "ca_file, sni, cert, key, min_version");
  }
}

TEST_CASE("pool client certificate expiring soon is a warning") {
  tls_dir d;
  d.make_certificate("client", "lb.internal", "", 10);
  auto r = d.load(pool_with_tls("{ cert: client.pem, key: client-key.pem }"));
  REQUIRE(r.ok());
  auto warnings = d.texts(r.warnings);
  REQUIRE(warnings.size() == 1);
  CHECK(starts_with(warnings[0], "t.yaml:4:18: tls certificate \"" + d.path("client.pem") +
                                     "\" expires in 10 days, on "));
}

TEST_CASE("admin tls: cert and key - both required") {
  tls_dir d;
  d.make_certificate("admin", "admin.internal", "DNS:admin.internal,DNS:lb-1.internal");
  {
    auto r = d.load("admin: { tls: { cert: admin.pem, key: admin-key.pem } }\n" +
                    std::string(minimal_yaml));
    INFO("errors:" << d.joined(r.errors));
    REQUIRE(r.ok());
    REQUIRE(r.value->admin_tls);
    CHECK(r.value->admin_tls->cert_file == "admin.pem");
    CHECK(r.value->admin_tls->names == std::vector<std::string>{"admin.internal", "lb-1.internal"});
    CHECK(starts_with(r.value->admin_tls->cert_pem, "-----BEGIN CERTIFICATE-----"));
    CHECK(r.value->admin_tls->not_after > seconds_from_now(std::chrono::hours(24 * 364)));
  }
  {
    auto r = load(minimal_yaml);
    REQUIRE(r.ok());
    CHECK_FALSE(r.value->admin_tls);
  }
  {
    auto e = d.only_error("admin: { tls: { cert: admin.pem } }\n" + std::string(minimal_yaml));
    CHECK(e ==
          "t.yaml:1:15: missing admin.tls.key; add it, like tls: { cert: "
          "/etc/tally/admin.pem, key: /etc/tally/admin-key.pem }");
  }
  {
    auto e = d.only_error("admin: { tls: { cert: admin.pem, key: nokey.pem } }\n" +
                          std::string(minimal_yaml));
    CHECK(starts_with(e, "t.yaml:1:39: tls key \"" + d.path("nokey.pem") + "\" cannot be read"));
  }
  {
    auto e = d.only_error("admin: { tls: yes }\n" + std::string(minimal_yaml));
    CHECK(starts_with(e, "t.yaml:1:15: admin.tls must be a map of key: value (one of: cert, key)"));
  }
}

TEST_CASE("tls files are found beside the config file - whatever the working directory") {
  tls_dir d;
  d.make_certificate("a", "a.example.com");
  auto config = d.write(
      "t.yaml", "admin: { tls: { cert: a.pem, key: a-key.pem } }\n" + std::string(minimal_yaml));
  auto r = load_config_file(config, load_options{});
  INFO("errors:" << d.joined(r.errors));
  REQUIRE(r.ok());
  CHECK(r.value->admin_tls->names == std::vector<std::string>{"a.example.com"});
}

TEST_CASE("admin tls: not with cluster peers, which call the admin listener over plain HTTP") {
  tls_dir d;
  d.make_certificate("admin", "admin.internal", "DNS:admin.internal");
  const std::string cluster =
      "cluster: { node_id: lb-1, peers: [ { id: lb-2, address: 127.0.0.1:9902 } ] }\n";
  auto e = d.only_error("admin: { tls: { cert: admin.pem, key: admin-key.pem } }\n" +
                        std::string(minimal_yaml) + cluster);
  CHECK(starts_with(e, "t.yaml:1:8: admin.tls cannot be combined with cluster.peers"));
  // Without peers (a cluster of one) it is fine.
  auto alone = d.load("admin: { tls: { cert: admin.pem, key: admin-key.pem } }\n" +
                      std::string(minimal_yaml) + "cluster: { node_id: lb-1 }\n");
  INFO(d.joined(alone.errors));
  CHECK(alone.ok());
}
