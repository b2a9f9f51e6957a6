// Certificate, key and CA files: read with a size bound, parsed with libcrypto, and checked the
// way the TLS library will use them (the leaf first, a key that matches it).
#include "tls_files.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "messages.hpp"
#include "small_file.hpp"

namespace tally::config::detail {
namespace {

// A certificate chain or key is a few kilobytes; the system CA bundle is about 200KiB. Anything
// much bigger is the wrong file.
constexpr std::size_t largest_tls_file_bytes = std::size_t{4} * 1024 * 1024;

constexpr std::string_view begin_certificate = "-----BEGIN CERTIFICATE-----";

using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::optional<std::string> read_tls_file(const std::string& path, std::string& problem) {
  return read_small_file(path, largest_tls_file_bytes,
                         "it is larger than 4MiB; it should hold PEM text only", problem);
}

// The reason of the oldest queued libcrypto error ("bad base64 decode"), and an empty queue.
std::string take_openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "error " + std::to_string(code);
}

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

// Never prompts on the terminal for an encrypted key's passphrase: there is none to give.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// The SAN DNS names, or the subject CN when there is none, in lower case.
std::vector<std::string> dns_names(X509* leaf) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) names.push_back(lowercase(asn1_text(name->d.dNSName)));
    }
    GENERAL_NAMES_free(sans);
  }
  if (!names.empty()) return names;
  X509_NAME* subject = X509_get_subject_name(leaf);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return names;
  unsigned char* utf8 = nullptr;
  int length =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  if (length > 0)
    names.push_back(lowercase(
        std::string(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length))));
  OPENSSL_free(utf8);
  return names;
}

std::optional<std::int64_t> epoch_seconds(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm));
}

// Every certificate of `text` in order, re-encoded as PEM into `pem`; the first is returned.
// `problem` (a complete sentence after the file's name) when there is none or one is malformed.
x509_ptr read_certificates(const std::string& text, bool allow_trusted, std::string& pem,
                           std::string& problem) {
  ERR_clear_error();
  auto in = memory_bio(text);
  bio_ptr out(BIO_new(BIO_s_mem()), &BIO_free);
  x509_ptr first(nullptr, &X509_free);
  while (true) {
    x509_ptr next(allow_trusted ? PEM_read_bio_X509_AUX(in.get(), nullptr, nullptr, nullptr)
                                : PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr),
                  &X509_free);
    if (!next) {
      unsigned long code = ERR_peek_last_error();
      bool at_end = ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE;
      if (first && at_end) break;
      if (text.find(begin_certificate) == std::string::npos &&
          (!allow_trusted || text.find("-----BEGIN TRUSTED CERTIFICATE-----") == std::string::npos))
        problem = "no PEM certificate found (expected " + std::string(begin_certificate) + ")";
      else
        problem = std::string(first ? "a certificate after the first" : "the first certificate") +
                  " cannot be parsed (" + take_openssl_error() + "); the file must hold PEM " +
                  (allow_trusted ? "CA certificates" : "certificates, the server's first");
      ERR_clear_error();
      return x509_ptr(nullptr, &X509_free);
    }
    PEM_write_bio_X509(out.get(), next.get());
    if (!first) first = std::move(next);
  }
  ERR_clear_error();
  pem = bio_text(out.get());
  return first;
}

pkey_ptr read_private_key(const std::string& text, std::string& pem, std::string& problem) {
  ERR_clear_error();
  if (text.find("ENCRYPTED") != std::string::npos) {
    problem =
        "is encrypted with a passphrase, which tally cannot ask for; decrypt it "
        "(openssl pkey -in KEY -out KEY.plain) and keep it readable by tally's user only";
    return pkey_ptr(nullptr, &EVP_PKEY_free);
  }
  auto in = memory_bio(text);
  pkey_ptr key(PEM_read_bio_PrivateKey(in.get(), nullptr, no_passphrase, nullptr), &EVP_PKEY_free);
  if (!key) {
    if (text.find("PRIVATE KEY-----") == std::string::npos)
      problem =
          "holds no PEM private key (expected -----BEGIN PRIVATE KEY-----, or an RSA or "
          "EC PRIVATE KEY)";
    else
      problem = "cannot be parsed as a private key (" + take_openssl_error() + ")";
    ERR_clear_error();
    return key;
  }
  int type = EVP_PKEY_get_base_id(key.get());
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC && type != EVP_PKEY_ED25519) {
    problem = std::string("is a ") + OBJ_nid2sn(type) +
              " key; tally supports RSA, EC (P-256, P-384) and Ed25519 keys";
    return pkey_ptr(nullptr, &EVP_PKEY_free);
  }
  bio_ptr out(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  pem = bio_text(out.get());
  return key;
}

}  // namespace

std::optional<certificate_problem> load_certificate_files(const std::string& cert_path,
                                                          const std::string& key_path,
                                                          tls_certificate_config& out) {
  using file = certificate_problem::file;
  const auto cert_name = "tls certificate " + quoted(cert_path);
  const auto key_name = "tls key " + quoted(key_path);
  std::string problem;
  auto cert_text = read_tls_file(cert_path, problem);
  if (!cert_text)
    return certificate_problem{file::cert, cert_name + " cannot be read: " + problem +
                                               "; fix the path or the file's permissions"};
  auto leaf = read_certificates(*cert_text, /*allow_trusted=*/false, out.cert_pem, problem);
  if (!leaf) return certificate_problem{file::cert, cert_name + ": " + problem};
  auto not_after = epoch_seconds(X509_get0_notAfter(leaf.get()));
  if (!not_after)
    return certificate_problem{file::cert, cert_name + ": its expiry date cannot be read"};
  out.not_after = *not_after;
  out.names = dns_names(leaf.get());

  auto key_text = read_tls_file(key_path, problem);
  if (!key_text)
    return certificate_problem{file::key, key_name + " cannot be read: " + problem +
                                              "; fix the path or the file's permissions"};
  auto key = read_private_key(*key_text, out.key_pem, problem);
  if (!key) return certificate_problem{file::key, key_name + " " + problem};
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return certificate_problem{file::key, "key " + quoted(key_path) +
                                              " does not match certificate " + quoted(cert_path) +
                                              " (the first certificate of the file); give the "
                                              "key the certificate was issued for"};
  }
  return std::nullopt;
}

std::optional<std::string> load_ca_file(const std::string& path, std::string& pem) {
  const auto name = "tls ca_file " + quoted(path);
  std::string problem;
  auto text = read_tls_file(path, problem);
  if (!text) return name + " cannot be read: " + problem + "; fix the path or the permissions";
  if (!read_certificates(*text, /*allow_trusted=*/true, pem, problem)) return name + ": " + problem;
  return std::nullopt;
}

std::string utc_date(std::int64_t epoch_seconds) {
  auto seconds = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  if (!::gmtime_r(&seconds, &tm)) return "an unknown date";
  char text[32];
  std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return std::string(text, length);
}

}  // namespace tally::config::detail
