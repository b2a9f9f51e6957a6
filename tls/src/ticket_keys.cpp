#include "ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>

namespace tally::tls {

namespace {

using clock = std::chrono::steady_clock;

constexpr auto rotation = std::chrono::hours(1);
constexpr std::size_t keys_kept = 3;  // the current key and the two before it

struct ticket_key {
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, 32> aes{};
  std::array<unsigned char, 32> hmac{};
  clock::time_point created;
};

// Handshakes on every worker use the ring: a mutex is cheap beside a handshake's public-key work.
class key_ring {
 public:
  // The key to encrypt a new ticket with (a copy: the ring may rotate meanwhile).
  bool current(ticket_key& out) {
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    if (keys_.empty() || now - keys_.front().created >= rotation) {
      ticket_key fresh;
      if (RAND_bytes(fresh.name.data(), fresh.name.size()) != 1 ||
          RAND_bytes(fresh.aes.data(), fresh.aes.size()) != 1 ||
          RAND_bytes(fresh.hmac.data(), fresh.hmac.size()) != 1)
        return false;
      fresh.created = now;
      keys_.push_front(fresh);
      if (keys_.size() > keys_kept) keys_.pop_back();
    }
    out = keys_.front();
    return true;
  }
  // The key named `name`, if it is still kept.
  bool find(const unsigned char* name, ticket_key& out) {
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (std::memcmp(keys_[i].name.data(), name, keys_[i].name.size()) != 0) continue;
      if (now - keys_[i].created >= rotation * keys_kept) return false;
      out = keys_[i];
      return true;
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::deque<ticket_key> keys_;  // newest first
};

key_ring& ring() {
  static key_ring keys;
  return keys;
}

bool set_hmac_key(EVP_MAC_CTX* hctx, ticket_key& key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// OpenSSL's contract: 1 = done (for decryption: no new ticket needed), 2 = decrypted, issue a
// new ticket, 0 = no such key (full handshake), -1 = failure.
int on_ticket(SSL*, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* hctx, int encrypt) {
  ticket_key key;
  if (encrypt) {
    if (!ring().current(key)) return -1;
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
    return set_hmac_key(hctx, key) ? 1 : -1;
  }
  if (!ring().find(key_name, key)) return 0;
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  if (!set_hmac_key(hctx, key)) return -1;
  // Always a fresh ticket on resumption: TLS 1.3 clients use a ticket once (RFC 8446 C.4), so
  // without one every other connection would be a full handshake.
  return 2;
}

}  // namespace

void use_rotating_ticket_keys(SSL_CTX* ctx) {
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
}

}  // namespace tally::tls
