// Session tickets with rotating keys, so a returning client resumes without a full handshake
// while a stolen ticket key opens only a few hours of sessions. One key ring for the process:
// a new key encrypts tickets every hour, and the two before it still decrypt (a ticket lives at
// most three hours), as nginx's and HAProxy's ticket key rotation. The keys never leave memory;
// a restart, like a new key, makes clients do one full handshake.
#pragma once

#include <openssl/ssl.h>

namespace tally::tls {

// Installs the ring's callback on a server context.
void use_rotating_ticket_keys(SSL_CTX* ctx);

}  // namespace tally::tls
