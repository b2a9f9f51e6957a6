// Fuzzes the decoder of POST /cluster/votes bodies (a peer's whole view, from the network):
// decode never throws or crashes, and whatever it accepts survives encode → decode unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tally/cluster/message.hpp"

using namespace tally::cluster;

namespace {

bool same(const votes_message& a, const votes_message& b) {
  if (a.from.node != b.from.node || a.from.incarnation != b.from.incarnation ||
      a.from.seq != b.from.seq || a.hlc != b.hlc || a.changes != b.changes ||
      a.votes.size() != b.votes.size())
    return false;
  for (std::size_t i = 0; i < a.votes.size(); ++i)
    if (a.votes[i].key != b.votes[i].key || a.votes[i].up != b.votes[i].up ||
        a.votes[i].since_ms != b.votes[i].since_ms)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto decoded = decode_votes_message(body);
  if (!decoded.message) {
    if (decoded.error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  // Limits from message.hpp hold for anything accepted.
  const auto& m = *decoded.message;
  if (m.from.node.empty() || m.from.node.size() > message_limits::max_string_bytes ||
      m.votes.size() > message_limits::max_votes || m.changes.size() > message_limits::max_changes)
    std::abort();
  auto again = decode_votes_message(encode(m));
  if (!again.message || !same(m, *again.message)) std::abort();
  return 0;
}
