// The signature on peer messages: a pure function pair, tested without sockets.
#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tally/cluster/peer_auth.hpp"

using namespace tally::cluster;
using namespace std::chrono_literals;

namespace {
constexpr std::int64_t now = 1'700'000'000'000;
const std::string body = R"({"node":"lb-2","seq":1})";

signature_check check(std::string_view token, std::string_view header, std::string_view b = body,
                      std::int64_t at = now) {
  return verify_message(token, header, b, at, 3500ms, 500ms);
}
}  // namespace

TEST_CASE("peer auth: a signed message verifies with the same token") {
  const auto header = sign_message("s3cret", now, body);
  CHECK(header.rfind("t=1700000000000,sig=", 0) == 0);
  CHECK(header.size() == std::string("t=1700000000000,sig=").size() + 64);
  const auto c = check("s3cret", header);
  CHECK(c);
  CHECK(c.timestamp_ms == now);
  // Deterministic: the same input signs the same way (the receiver recomputes it).
  CHECK(sign_message("s3cret", now, body) == header);
}

TEST_CASE("peer auth: known vectors - HMAC-SHA256 over \"<t>.<body>\" as openssl computes it") {
  // printf '1.x' | openssl dgst -sha256 -hmac key
  CHECK(sign_message("key", 1, "x") ==
        "t=1,sig=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec");
  // printf '1700000000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
  CHECK(sign_message("s3cret", now, R"({"a":1})") ==
        "t=1700000000000,sig=8a6f992378d0d47b6fcdf1cc8d72e46ba5c789b2c9d3a538be31fe07d598ba6d");
}

TEST_CASE("peer auth: a wrong token, a changed body or a changed timestamp is a mismatch") {
  const auto header = sign_message("s3cret", now, body);
  CHECK(check("other", header).status == signature_status::mismatch);
  CHECK(check("s3cret", header, R"({"node":"lb-3","seq":1})").status == signature_status::mismatch);
  // Moving t forward to dodge the age window breaks the MAC.
  auto moved = header;
  moved.replace(2, 13, std::to_string(now + 1));
  CHECK(check("s3cret", moved).status == signature_status::mismatch);
  // An empty receiver token never accepts anything.
  CHECK(check("", header).status == signature_status::mismatch);
  CHECK(sign_message("", now, body).empty());
}

TEST_CASE("peer auth: missing and malformed headers are refused before any MAC work") {
  CHECK(check("s3cret", "").status == signature_status::missing);
  const auto sig = sign_message("s3cret", now, body).substr(std::string("t=1700000000000,").size());
  const std::vector<std::string> bad_headers = {"garbage",
                                                "t=,sig=" + sig.substr(4),
                                                "t=-5," + sig,
                                                "t=1700000000000",
                                                "t=1700000000000,sig=abc",
                                                "t=1700000000000," + sig + "0",
                                                "t=1700000000000,sig=" + std::string(64, 'G'),
                                                "t=99999999999999999999," + sig,
                                                " t=1700000000000," + sig};
  for (const auto& bad : bad_headers) {
    CAPTURE(bad);
    CHECK(check("s3cret", bad).status == signature_status::malformed);
  }
  // Upper-case hex is not the format: one spelling, one comparison.
  auto upper = sign_message("s3cret", now, body);
  for (auto i = upper.find("sig=") + 4; i < upper.size(); ++i)
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  if (upper != sign_message("s3cret", now, body))
    CHECK(check("s3cret", upper).status == signature_status::malformed);
}

TEST_CASE("peer auth: a captured request replayed later is too old - one from the future too new") {
  const auto header = sign_message("s3cret", now, body);
  CHECK(check("s3cret", header, body, now + 3500));  // at the edge of the window
  CHECK(check("s3cret", header, body, now + 3501).status == signature_status::too_old);
  CHECK(check("s3cret", header, body, now - 500));
  CHECK(check("s3cret", header, body, now - 501).status == signature_status::too_new);
  // Extreme values do not overflow the window arithmetic.
  CHECK(verify_message("s3cret", header, body, INT64_MAX, 3500ms, 500ms).status ==
        signature_status::too_old);
  CHECK(verify_message("s3cret", header, body, INT64_MIN, 3500ms, 500ms).status ==
        signature_status::too_new);
  const auto late = sign_message("s3cret", INT64_MAX, body);
  CHECK(verify_message("s3cret", late, body, now, 3500ms, 500ms).status ==
        signature_status::too_new);
}
