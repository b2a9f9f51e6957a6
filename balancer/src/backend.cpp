#include "tally/balancer/backend.hpp"

namespace tally::balancer {
namespace {
std::atomic<std::uint64_t> next_backend_id{1};
}

backend::backend(std::string address, std::uint32_t configured_weight)
    : address_(std::move(address)),
      id_(next_backend_id.fetch_add(1, std::memory_order_relaxed)),
      configured_weight_(configured_weight),
      weight_(configured_weight) {}

}  // namespace tally::balancer
