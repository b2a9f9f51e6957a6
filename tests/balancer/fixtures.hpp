// Backend lists and pick loops shared by the balancer tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tally/balancer/policy.hpp"

namespace tally::balancer::test {

// Backends "10.0.0.1:80", "10.0.0.2:80", ... with the given weights.
inline backend_list make_backends(std::initializer_list<std::uint32_t> weights) {
  backend_list list;
  int n = 0;
  for (auto w : weights)
    list.push_back(std::make_shared<backend>("10.0.0." + std::to_string(++n) + ":80", w));
  return list;
}

inline backend_list make_equal_backends(int n) {
  backend_list list;
  for (int i = 1; i <= n; ++i)
    list.push_back(std::make_shared<backend>("10.0.0." + std::to_string(i) + ":80", 1));
  return list;
}

// Picks `n` times on one worker and returns the indices as letters: 0 -> 'a', -1 -> '-'.
inline std::string sequence(policy& p, int n, unsigned worker = 0) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    int idx = p.pick({.worker = worker});
    out += idx < 0 ? '-' : static_cast<char>('a' + idx);
  }
  return out;
}

// Picks `n` times and counts each index (-1 included).
inline std::map<int, int> tally_picks(policy& p, int n, pick_context ctx = {}) {
  std::map<int, int> counts;
  for (int i = 0; i < n; ++i)
    ++counts[p.pick(ctx)];
  return counts;
}

}  // namespace tally::balancer::test
