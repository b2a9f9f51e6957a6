// The `tls` sections: of a listener (certificates chosen by SNI), of the admin listener, and of a
// pool (TLS to its backends). The files they name are read and checked here, at load time.
#include <arpa/inet.h>

#include <algorithm>

#include "scalars.hpp"
#include "schema.hpp"
#include "tls_files.hpp"

namespace tally::config::detail {
namespace {

constexpr std::int64_t seconds_per_day = std::int64_t{24} * 60 * 60;
// Certificates closer than this to their expiry get a warning at every load.
constexpr std::int64_t expiry_warning_days = 30;

void warn_if_expiring(const map_reader& section, const std::string& cert_path,
                      const tls_certificate_config& cert, std::int64_t now) {
  const auto left = cert.not_after - now;
  const auto name = "tls certificate " + quoted(cert_path);
  const auto at = section.value_mark("cert");
  if (left <= 0) {
    section.diag().warn(at, name + " expired on " + utc_date(cert.not_after) +
                                "; renew it (clients refuse an expired certificate)");
    return;
  }
  const auto days = (left + seconds_per_day - 1) / seconds_per_day;
  if (days > expiry_warning_days) return;
  section.diag().warn(at, name + " expires in " + std::to_string(days) +
                              (days == 1 ? " day" : " days") + ", on " + utc_date(cert.not_after) +
                              "; renew it");
}

// `cert` and `key` of `section`, both present (the caller checked), with their files loaded.
std::optional<tls_certificate_config> read_certificate(const map_reader& section,
                                                       std::int64_t now) {
  tls_certificate_config out;
  bool cert_ok = section.read_string("cert", out.cert_file);
  bool key_ok = section.read_string("key", out.key_file);
  if (!cert_ok || !key_ok) return std::nullopt;
  const auto& file = section.diag().file();
  const auto cert_path = resolve_beside(file, out.cert_file);
  auto problem = load_certificate_files(cert_path, resolve_beside(file, out.key_file), out);
  if (problem) {
    bool in_cert = problem->in == certificate_problem::file::cert;
    section.diag().report(section.value_mark(in_cert ? "cert" : "key"),
                          std::move(problem->message));
    return std::nullopt;
  }
  warn_if_expiring(section, cert_path, out, now);
  return out;
}

// True when `section` has both `cert` and `key`; reports each missing one otherwise.
bool require_certificate(const map_reader& section, std::string_view example) {
  const auto hint = "add it, like " + std::string(example);
  bool has_cert = section.require("cert", hint);
  bool has_key = section.require("key", hint);
  return has_cert && has_key;
}

void read_min_version(const map_reader& tls, tls_version& out) {
  auto text = tls.scalar("min_version", "\"1.2\" or \"1.3\"");
  if (!text) return;
  if (*text == "1.2") {
    out = tls_version::v1_2;
  } else if (*text == "1.3") {
    out = tls_version::v1_3;
  } else if (*text == "1.0" || *text == "1.1" || *text == "1") {
    tls.diag().report(tls.value_mark("min_version"),
                      tls.field("min_version") + " " + quoted(*text) +
                          ": TLS 1.0 and 1.1 are not supported (they are deprecated, RFC 8996); "
                          "use \"1.2\" or \"1.3\"");
  } else {
    tls.diag().report(
        tls.value_mark("min_version"),
        tls.field("min_version") + " must be \"1.2\" or \"1.3\", got " + quoted(*text));
  }
}

void read_alpn(const map_reader& tls, std::vector<std::string>& out) {
  auto list = tls.list("alpn", "alpn: [http/1.1]");
  if (!list) return;
  const auto at = tls.value_mark("alpn");
  if (list->size() == 0) {
    tls.diag().report(at, tls.field("alpn") +
                              " is empty; remove it (the default offers http/1.1) or write "
                              "[http/1.1]");
    return;
  }
  std::vector<std::string> read;
  bool ok = true;
  for (std::size_t i = 0; i < list->size(); ++i) {
    YAML::Node item = (*list)[i];
    const auto item_at = mark_or(item, at);
    const auto field = tls.field("alpn") + "[" + std::to_string(i) + "]";
    if (!item.IsScalar() || item.Scalar() != "http/1.1") {
      tls.diag().report(item_at, field +
                                     ": tally speaks HTTP/1.1 only, so \"http/1.1\" is the one "
                                     "protocol it can offer; got " +
                                     describe(item));
      ok = false;
      continue;
    }
    if (std::find(read.begin(), read.end(), item.Scalar()) != read.end()) {
      tls.diag().report(item_at, field + " " + quoted(item.Scalar()) +
                                     " is listed twice; list each protocol once");
      ok = false;
      continue;
    }
    read.push_back(item.Scalar());
  }
  if (ok) out = std::move(read);
}

void read_listener_certificates(const map_reader& tls, std::vector<tls_certificate_config>& out,
                                std::int64_t now) {
  constexpr std::string_view example = "certificates: [ { cert: site.pem, key: site-key.pem } ]";
  if (!tls.require("certificates", "add at least one, like " + std::string(example))) return;
  auto list = tls.list("certificates", example);
  if (!list) return;
  const auto at = tls.value_mark("certificates");
  if (list->size() == 0) {
    tls.diag().report(at, tls.field("certificates") +
                              " is empty; add at least one certificate, like " +
                              std::string(example));
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    YAML::Node item = (*list)[i];
    map_reader entry(item, at, tls.field("certificates") + "[" + std::to_string(i) + "]",
                     {"cert", "key"}, tls.diag());
    if (!entry.is_map()) continue;
    if (!require_certificate(entry, "{ cert: site.pem, key: site-key.pem }")) continue;
    if (auto cert = read_certificate(entry, now)) out.push_back(std::move(*cert));
  }
}

// An SNI name is a DNS name: an IP address is never sent as SNI (RFC 6066).
bool is_sni_name(const std::string& name) {
  unsigned char bytes[16];
  return is_plausible_host(name) && ::inet_pton(AF_INET, name.c_str(), bytes) != 1;
}

}  // namespace

void read_listener_tls(const map_reader& listener, std::optional<listener_tls_config>& out,
                       std::int64_t now) {
  map_reader tls(listener, "tls", {"certificates", "min_version", "alpn"});
  if (!tls.is_map()) return;
  listener_tls_config read;
  read_listener_certificates(tls, read.certificates, now);
  read_min_version(tls, read.min_version);
  read_alpn(tls, read.alpn);
  out = std::move(read);
}

void read_admin_tls(const map_reader& admin, std::optional<tls_certificate_config>& out,
                    std::int64_t now) {
  map_reader tls(admin, "tls", {"cert", "key"});
  if (!tls.is_map()) return;
  if (!require_certificate(tls,
                           "tls: { cert: /etc/tally/admin.pem, key: /etc/tally/admin-key.pem }"))
    return;
  out = read_certificate(tls, now);
}

void read_upstream_tls(const map_reader& pool, std::optional<upstream_tls_config>& out,
                       std::int64_t now) {
  map_reader tls(pool, "tls", {"verify", "ca_file", "sni", "cert", "key", "min_version"});
  if (!tls.is_map()) return;
  upstream_tls_config read;
  tls.read_bool("verify", read.verify);
  if (tls.read_string("ca_file", read.ca_file)) {
    if (!read.verify) {
      tls.diag().report(tls.value_mark("ca_file"),
                        tls.field("ca_file") +
                            " has no effect with verify: false; remove one "
                            "(verify: false accepts any backend certificate)");
    } else if (auto problem =
                   load_ca_file(resolve_beside(tls.diag().file(), read.ca_file), read.ca_pem)) {
      tls.diag().report(tls.value_mark("ca_file"), std::move(*problem));
    }
  }
  if (tls.read_string("sni", read.sni) && !is_sni_name(read.sni)) {
    tls.diag().report(tls.value_mark("sni"),
                      tls.field("sni") + " must be a DNS name like api.internal, got " +
                          quoted(read.sni) + " (an IP address is never sent as SNI)");
  }
  const bool has_cert = tls.has("cert");
  if (has_cert != tls.has("key")) {
    const auto* present = has_cert ? "cert" : "key";
    const auto* absent = has_cert ? "key" : "cert";
    tls.diag().report(tls.value_mark(present),
                      tls.field(present) + " needs " + tls.field(absent) +
                          " too: the client certificate (mTLS) and its private key go together");
  } else if (has_cert) {
    read.client_certificate = read_certificate(tls, now);
  }
  read_min_version(tls, read.min_version);
  out = std::move(read);
}

}  // namespace tally::config::detail
