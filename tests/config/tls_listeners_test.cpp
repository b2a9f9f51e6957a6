// `listen` as one address or a list of listeners, and a listener's `tls` section: certificates
// read from files made at test time, min_version, alpn, and the expiry warnings.
#include <doctest/doctest.h>

#include <string>

#include "tls_fixtures.hpp"

using namespace tally::config;
using namespace tally::config::test;
using namespace std::chrono_literals;

namespace {

// One TLS listener on 127.0.0.1:8443 with the given lines under its `tls:` (indented 6), then the
// minimal pools and routes. The `tls:` lines start on line 4.
std::string tls_listener(const std::string& tls_lines) {
  return "listen:\n"
         "  - address: 127.0.0.1:8443\n"
         "    tls:\n" +
         tls_lines + std::string(minimal_yaml);
}

// The certificate lines of one { cert: a.pem, key: a-key.pem }: its cert value is at 5:19, its
// key value at 5:31.
const std::string one_certificate =
    "      certificates:\n"
    "        - { cert: a.pem, key: a-key.pem }\n";

}  // namespace

TEST_CASE("listen as one address is one plain listener") {
  auto r = load("listen: 127.0.0.1:8443\n" + std::string(minimal_yaml));
  REQUIRE(r.ok());
  REQUIRE(r.value->listeners.size() == 1);
  CHECK(r.value->listeners[0].address.text == "127.0.0.1:8443");
  CHECK(r.value->listeners[0].address.port == 8443);
  CHECK_FALSE(r.value->listeners[0].tls);
  CHECK(r.warnings.empty());
}

TEST_CASE("listen as a list: plain addresses and TLS listeners with two certificates") {
  tls_dir d;
  d.make_certificate("a", "a.example.com", "DNS:A.Example.com,DNS:*.b.example.com");
  d.make_certificate("c", "C.example.org");  // no SAN: the CN is its name
  auto r = d.load(
      "listen:\n"
      "  - 127.0.0.1:8080\n"
      "  - { address: '[::1]:8081' }\n"
      "  - address: 0.0.0.0:8443\n"
      "    tls:\n"
      "      certificates:\n"
      "        - { cert: a.pem, key: a-key.pem }\n"
      "        - cert: " +
      d.path("c.pem") +
      "\n"
      "          key: c-key.pem\n" +
      std::string(minimal_yaml));
  INFO("errors:" << d.joined(r.errors));
  REQUIRE(r.ok());
  CHECK(r.warnings.empty());
  const auto& listeners = r.value->listeners;
  REQUIRE(listeners.size() == 3);
  CHECK(listeners[0].address.text == "127.0.0.1:8080");
  CHECK_FALSE(listeners[0].tls);
  CHECK(listeners[1].address.host == "::1");
  CHECK_FALSE(listeners[1].tls);
  CHECK(listeners[2].address.text == "0.0.0.0:8443");
  REQUIRE(listeners[2].tls);
  const auto& tls = *listeners[2].tls;
  CHECK(tls.min_version == tls_version::v1_2);
  CHECK(tls.alpn == std::vector<std::string>{"http/1.1"});
  REQUIRE(tls.certificates.size() == 2);

  const auto& a = tls.certificates[0];
  CHECK(a.cert_file == "a.pem");  // as configured
  CHECK(a.key_file == "a-key.pem");
  CHECK(a.names == std::vector<std::string>{"a.example.com", "*.b.example.com"});
  CHECK(starts_with(a.cert_pem, "-----BEGIN CERTIFICATE-----"));
  CHECK(contains(a.key_pem, "PRIVATE KEY-----"));
  CHECK(a.not_after > seconds_from_now(364 * 24h));
  CHECK(a.not_after < seconds_from_now(366 * 24h));

  const auto& c = tls.certificates[1];
  CHECK(c.cert_file == d.path("c.pem"));  // an absolute path as it is
  CHECK(c.names == std::vector<std::string>{"c.example.org"});
  CHECK(c.cert_pem != a.cert_pem);
  CHECK(c.key_pem != a.key_pem);
}

TEST_CASE("RSA and Ed25519 keys are accepted") {
  tls_dir d;
  d.make_certificate("a", "rsa.example.com", "", 365, "rsa:2048");
  d.make_certificate("b", "ed.example.com", "", 365, "ed25519");
  auto r =
      d.load(tls_listener("      certificates:\n"
                          "        - { cert: a.pem, key: a-key.pem }\n"
                          "        - { cert: b.pem, key: b-key.pem }\n"));
  INFO("errors:" << d.joined(r.errors));
  REQUIRE(r.ok());
  REQUIRE(r.value->listeners[0].tls->certificates.size() == 2);
  CHECK(r.value->listeners[0].tls->certificates[1].names ==
        std::vector<std::string>{"ed.example.com"});
}

TEST_CASE("min_version is 1.2 or 1.3 - older versions are refused with the reason") {
  tls_dir d;
  d.make_certificate("a", "a.example.com");
  {
    auto r = d.load(tls_listener(one_certificate + "      min_version: \"1.3\"\n"));
    REQUIRE(r.ok());
    CHECK(r.value->listeners[0].tls->min_version == tls_version::v1_3);
    CHECK(std::string(to_string(r.value->listeners[0].tls->min_version)) == "1.3");
    CHECK(std::string(to_string(tls_version::v1_2)) == "1.2");
  }
  for (std::string old : {"1.1", "1.0"}) {
    CAPTURE(old);
    auto e = d.only_error(tls_listener(one_certificate + "      min_version: " + old + "\n"));
    CHECK(e == "t.yaml:6:20: listen[0].tls.min_version \"" + old +
                   "\": TLS 1.0 and 1.1 are not supported (they are deprecated, RFC 8996); use "
                   "\"1.2\" or \"1.3\"");
  }
  auto e = d.only_error(tls_listener(one_certificate + "      min_version: tls13\n"));
  CHECK(e == "t.yaml:6:20: listen[0].tls.min_version must be \"1.2\" or \"1.3\", got \"tls13\"");
}

TEST_CASE("alpn offers http/1.1 only") {
  tls_dir d;
  d.make_certificate("a", "a.example.com");
  {
    auto r = d.load(tls_listener(one_certificate + "      alpn: [http/1.1]\n"));
    REQUIRE(r.ok());
    CHECK(r.value->listeners[0].tls->alpn == std::vector<std::string>{"http/1.1"});
  }
  auto e = d.only_error(tls_listener(one_certificate + "      alpn: [http/1.1, h2]\n"));
  CHECK(e ==
        "t.yaml:6:24: listen[0].tls.alpn[1]: tally speaks HTTP/1.1 only, so \"http/1.1\" "
        "is the one protocol it can offer; got \"h2\"");
  e = d.only_error(tls_listener(one_certificate + "      alpn: []\n"));
  CHECK(starts_with(e, "t.yaml:6:13: listen[0].tls.alpn is empty"));
}

TEST_CASE("certificate files that are missing - garbage - or the wrong key") {
  tls_dir d;
  d.make_certificate("a", "a.example.com");
  d.make_certificate("b", "b.example.com");
  d.write("garbage.pem", "not a certificate\n");
  d.write("broken.pem", "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n");
  auto cert_line = [](const std::string& cert, const std::string& key) {
    return "      certificates:\n        - { cert: " + cert + ", key: " + key + " }\n";
  };
  {
    auto e = d.only_error(tls_listener(cert_line("missing.pem", "a-key.pem")));
    CHECK(e == "t.yaml:5:19: tls certificate \"" + d.path("missing.pem") +
                   "\" cannot be read: No such file or directory; fix the path or the file's "
                   "permissions");
  }
  {
    auto e = d.only_error(tls_listener(cert_line("garbage.pem", "a-key.pem")));
    CHECK(e == "t.yaml:5:19: tls certificate \"" + d.path("garbage.pem") +
                   "\": no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
  }
  {
    auto e = d.only_error(tls_listener(cert_line("broken.pem", "a-key.pem")));
    CHECK(starts_with(e, "t.yaml:5:19: tls certificate \"" + d.path("broken.pem") +
                             "\": the first certificate cannot be parsed ("));
  }
  {
    // A key file where the certificate belongs: no certificate in it.
    auto e = d.only_error(tls_listener(cert_line("a-key.pem", "a-key.pem")));
    CHECK(contains(e, "no PEM certificate found"));
  }
  {
    auto e = d.only_error(tls_listener(cert_line("a.pem", "missing-key.pem")));
    CHECK(e == "t.yaml:5:31: tls key \"" + d.path("missing-key.pem") +
                   "\" cannot be read: No such file or directory; fix the path or the file's "
                   "permissions");
  }
  {
    auto e = d.only_error(tls_listener(cert_line("a.pem", "garbage.pem")));
    CHECK(starts_with(
        e, "t.yaml:5:31: tls key \"" + d.path("garbage.pem") + "\" holds no PEM private key"));
  }
  {
    auto e = d.only_error(tls_listener(cert_line("a.pem", "b-key.pem")));
    CHECK(e == "t.yaml:5:31: key \"" + d.path("b-key.pem") + "\" does not match certificate \"" +
                   d.path("a.pem") +
                   "\" (the first certificate of the file); give the key the certificate was "
                   "issued for");
  }
  {
    d.run({"openssl", "pkey", "-in", d.path("a-key.pem"), "-aes256", "-passout", "pass:secret",
           "-out", d.path("encrypted-key.pem")});
    auto e = d.only_error(tls_listener(cert_line("a.pem", "encrypted-key.pem")));
    CHECK(starts_with(e, "t.yaml:5:31: tls key \"" + d.path("encrypted-key.pem") +
                             "\" is encrypted with a passphrase"));
  }
}

TEST_CASE("a certificate expiring within 30 days is a warning - the config still loads") {
  tls_dir d;
  d.make_certificate("a", "a.example.com", "", 5);
  auto r = d.load(tls_listener(one_certificate));
  REQUIRE(r.ok());
  auto warnings = d.texts(r.warnings);
  REQUIRE(warnings.size() == 1);
  const auto& cert = r.value->listeners[0].tls->certificates[0];
  CHECK(starts_with(warnings[0], "t.yaml:5:19: tls certificate \"" + d.path("a.pem") +
                                     "\" expires in 5 days, on 20"));
  CHECK(warnings[0].substr(warnings[0].size() - 10) == "; renew it");

  // A day after its expiry (the clock pinned): it has expired.
  load_options later;
  later.now =
      std::chrono::system_clock::from_time_t(static_cast<std::time_t>(cert.not_after)) + 24h;
  r = d.load(tls_listener(one_certificate), later);
  REQUIRE(r.ok());
  warnings = d.texts(r.warnings);
  REQUIRE(warnings.size() == 1);
  CHECK(starts_with(warnings[0],
                    "t.yaml:5:19: tls certificate \"" + d.path("a.pem") + "\" expired on 20"));
  CHECK(contains(warnings[0], "; renew it (clients refuse an expired certificate)"));

  // Far from expiry: no warning.
  d.make_certificate("b", "b.example.com", "", 31);
  r = d.load(tls_listener("      certificates: [ { cert: b.pem, key: b-key.pem } ]\n"));
  REQUIRE(r.ok());
  CHECK(r.warnings.empty());
}

TEST_CASE("the expiry date in warnings is the certificate's UTC date") {
  tls_dir d;
  d.make_certificate("a", "a.example.com", "", 1);
  load_options at;
  at.now = std::chrono::system_clock::now();
  auto r = d.load(tls_listener(one_certificate), at);
  REQUIRE(r.ok());
  REQUIRE(r.warnings.size() == 1);
  auto expiry = static_cast<std::time_t>(r.value->listeners[0].tls->certificates[0].not_after);
  std::tm tm{};
  ::gmtime_r(&expiry, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  CHECK(
      contains(r.warnings[0].message, "expires in 1 day, on " + std::string(date) + "; renew it"));
}

TEST_CASE(
    "listener list errors: empty - duplicate addresses - admin.listen among them - bad items") {
  {
    auto e = only_error("listen: []\n" + std::string(minimal_yaml));
    CHECK(starts_with(e, "t.yaml:1:9: listen must be an address host:port"));
  }
  {
    auto e = only_error(
        "listen:\n"
        "  - 127.0.0.1:8080\n"
        "  - { address: 127.0.0.1:8081 }\n"
        "  - { address: LOCALHOST:8080 }\n"
        "  - localhost:8080\n" +
        std::string(minimal_yaml));
    CHECK(e ==
          "t.yaml:5:5: listen[3] \"localhost:8080\" is the same address as listen[2] (line 4); "
          "list each address once, with all its certificates");
  }
  {
    auto r = load("listen: [127.0.0.1:0, 127.0.0.1:0]\n" + std::string(minimal_yaml));
    CHECK(r.ok());  // port 0: a free port each
  }
  {
    auto e = only_error(
        "listen: [127.0.0.1:8080, 127.0.0.1:9000]\n"
        "admin: { listen: 127.0.0.1:9000 }\n" +
        std::string(minimal_yaml));
    CHECK(e ==
          "t.yaml:2:18: admin.listen \"127.0.0.1:9000\" is the same address as listen[1]; give "
          "the admin API its own port");
  }
  {
    auto e = only_error("listen: [127.0.0.1:8080, 127.0.0.1:9901]\n" + std::string(minimal_yaml));
    CHECK(e ==
          "t.yaml:1:26: listen[1] \"127.0.0.1:9901\" is the address admin.listen uses by default; "
          "pick another port or set admin.listen");
  }
  {
    auto e = only_error("listen: [127.0.0.1:8080, nonsense]\n" + std::string(minimal_yaml));
    CHECK(starts_with(e, "t.yaml:1:26: bad address \"nonsense\": "));
  }
  {
    auto e = only_error("listen: [ [127.0.0.1:8080] ]\n" + std::string(minimal_yaml));
    CHECK(e ==
          "t.yaml:1:11: listen[0] must be an address host:port or a map { address: "
          "HOST:PORT, tls: {...} }, got a list");
  }
  {
    auto e = only_error("listen: [ { adress: 127.0.0.1:1 } ]\n" + std::string(minimal_yaml));
    CHECK(e == "t.yaml:1:13: unknown key \"adress\" in listen[0]; expected one of: address, tls");
  }
}

TEST_CASE(
    "listener tls section errors: certificates missing or empty - a certificate without key - "
    "unknown keys") {
  tls_dir d;
  d.make_certificate("a", "a.example.com");
  {
    auto e = d.only_error(tls_listener("      min_version: \"1.2\"\n"));
    CHECK(starts_with(e, "t.yaml:4:7: missing listen[0].tls.certificates; add at least one"));
  }
  {
    auto e = d.only_error(tls_listener("      certificates: []\n"));
    CHECK(starts_with(e, "t.yaml:4:21: listen[0].tls.certificates is empty"));
  }
  {
    auto e = d.only_error(tls_listener("      certificates: [ { cert: a.pem } ]\n"));
    CHECK(starts_with(e, "t.yaml:4:23: missing listen[0].tls.certificates[0].key; add it"));
  }
  {
    auto e = d.only_error(tls_listener(one_certificate + "      ciphers: HIGH\n"));
    CHECK(e ==
          "t.yaml:6:7: unknown key \"ciphers\" in listen[0].tls; expected one of: "
          "certificates, min_version, alpn");
  }
}
