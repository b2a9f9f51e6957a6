// Waiting in tests for something that has no event to await: poll `pred` (each poll does real
// work — a request, a status read) until it holds or `limit` passes. Never a bare sleep.
#pragma once

#include <chrono>

namespace tally::test {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline)
    if (pred()) return true;
  return false;
}

}  // namespace tally::test
