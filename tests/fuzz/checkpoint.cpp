// Fuzzes the checkpoint decoder (a file on disk or a peer's GET /cluster/checkpoint answer):
// decode never throws or crashes, and a checkpoint it accepts re-encodes to one that decodes to
// the same state. Random bytes rarely carry a valid checksum, but the schema is read before the
// checksum is compared, so every field check is reached; the seeds (real encoder output) reach
// the accepting path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tally/cluster/checkpoint_codec.hpp"

using namespace tally::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = decode_checkpoint(bytes);
  if (!decoded) {
    if (decoded.error.empty()) std::abort();
    return 0;
  }
  if (decoded.state->format_version != checkpoint_format_version) std::abort();
  auto again = decode_checkpoint(encode_checkpoint(*decoded.state));
  if (!again || !(*again.state == *decoded.state)) std::abort();
  return 0;
}
