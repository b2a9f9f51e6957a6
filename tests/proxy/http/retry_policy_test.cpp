#include <doctest/doctest.h>

#include <random>

#include "http/retry_policy.hpp"

using namespace tally::proxy;
using tally::config::retry_condition;
using tally::config::retry_config;

namespace {

retry_config retry_on(std::initializer_list<retry_condition> conditions) {
  retry_config cfg;
  cfg.on = 0;
  for (auto c : conditions)
    cfg.on |= static_cast<unsigned>(c);
  return cfg;
}

const retry_config all_conditions = retry_config{};

}  // namespace

TEST_CASE("retry_policy: a response below 500 is relayed and counts as a success") {
  auto d = decide_retry({try_failure::none, 404}, all_conditions, true, false);
  CHECK_FALSE(d.retry);
  CHECK_FALSE(d.backend_failed);
}

TEST_CASE("retry_policy: 502 503 504 retry when listed and the request can be replayed") {
  for (unsigned status : {502u, 503u, 504u}) {
    CAPTURE(status);
    auto d = decide_retry({try_failure::none, status}, all_conditions, true, false);
    CHECK(d.retry);
    CHECK(d.backend_failed);
    CHECK(d.uses_budget);
    CHECK(tally::config::to_string(d.reason) == std::to_string(status));
    CHECK_FALSE(decide_retry({try_failure::none, status}, all_conditions, false, false).retry);
    CHECK_FALSE(decide_retry({try_failure::none, status}, all_conditions, true, true).retry);
  }
  // A 500 is the application's answer, never a retry.on word.
  auto d = decide_retry({try_failure::none, 500}, all_conditions, true, false);
  CHECK_FALSE(d.retry);
  CHECK(d.backend_failed);
  // Only the listed statuses.
  auto only_503 = retry_on({retry_condition::status_503});
  CHECK_FALSE(decide_retry({try_failure::none, 502}, only_503, true, false).retry);
  CHECK(decide_retry({try_failure::none, 503}, only_503, true, false).retry);
}

TEST_CASE("retry_policy: connect failures retry whatever the method and need no budget") {
  auto d = decide_retry({try_failure::connect}, all_conditions, false, false);
  CHECK(d.retry);
  CHECK_FALSE(d.uses_budget);
  CHECK(d.reason == retry_condition::connect_failure);
  CHECK_FALSE(
      decide_retry({try_failure::connect}, retry_on({retry_condition::reset}), true, false).retry);
  // A connect timeout retries on either word.
  CHECK(decide_retry({try_failure::connect_timeout}, retry_on({retry_condition::timeout}), false,
                     false)
            .retry);
  CHECK(decide_retry({try_failure::connect_timeout}, retry_on({retry_condition::connect_failure}),
                     false, false)
            .retry);
  CHECK_FALSE(decide_retry({try_failure::connect}, all_conditions, true, true).retry);
}

TEST_CASE("retry_policy: resets and timeouts after sending retry only replayable requests") {
  for (auto f : {try_failure::send, try_failure::response_error}) {
    auto d = decide_retry({f}, all_conditions, true, false);
    CHECK(d.retry);
    CHECK(d.uses_budget);
    CHECK(d.reason == retry_condition::reset);
    CHECK_FALSE(decide_retry({f}, all_conditions, false, false).retry);
    CHECK_FALSE(decide_retry({f, 0, true}, all_conditions, true, false).retry);  // body streamed
    CHECK_FALSE(decide_retry({f}, retry_on({retry_condition::timeout}), true, false).retry);
  }
  auto d = decide_retry({try_failure::response_timeout}, all_conditions, true, false);
  CHECK(d.retry);
  CHECK(d.reason == retry_condition::timeout);
  CHECK_FALSE(
      decide_retry({try_failure::response_timeout}, retry_on({retry_condition::reset}), true, false)
          .retry);
}

TEST_CASE("retry_policy: a client body failure is not the backend's fault") {
  auto d = decide_retry({try_failure::client_body}, all_conditions, true, false);
  CHECK_FALSE(d.retry);
  CHECK_FALSE(d.backend_failed);
}

TEST_CASE("retry_policy: the budget is max(3 - budget_percent of active requests)") {
  CHECK(retry_budget_allows(0, 2, 20));
  CHECK_FALSE(retry_budget_allows(0, 3, 20));
  CHECK(retry_budget_allows(100, 19, 20));
  CHECK_FALSE(retry_budget_allows(100, 20, 20));
  CHECK(retry_budget_allows(100, 99, 100));
}

TEST_CASE("retry_policy: request_accounting holds one retry slot and gives everything back") {
  std::atomic<std::int64_t> active{0}, retries{0};
  {
    request_accounting a(active, retries);
    CHECK(active == 1);
    CHECK(a.take_retry_slot(20));
    CHECK(a.take_retry_slot(20));  // kept, not taken twice
    CHECK(retries == 1);
    retries = 3;  // others filled the budget: this request still holds its slot
    CHECK(a.take_retry_slot(20));
    request_accounting b(active, retries);
    CHECK_FALSE(b.take_retry_slot(20));
    retries = 1;
  }
  CHECK(active == 0);
  CHECK(retries == 0);
}

TEST_CASE("retry_policy: backoff is none for the first retry then grows with full jitter") {
  std::minstd_rand rng(7);
  using std::chrono::milliseconds;
  CHECK(retry_backoff(milliseconds(25), 1, rng) == milliseconds(0));
  CHECK(retry_backoff(milliseconds(0), 3, rng) == milliseconds(0));
  milliseconds most{0};
  for (int i = 0; i < 500; ++i) {
    auto second = retry_backoff(milliseconds(25), 2, rng);
    CHECK(second <= milliseconds(25));
    auto third = retry_backoff(milliseconds(25), 3, rng);
    CHECK(third <= milliseconds(50));
    most = std::max(most, third);
    CHECK(retry_backoff(milliseconds(25), 30, rng) <= milliseconds(25 * 64));  // capped
  }
  CHECK(most > milliseconds(25));  // the cap doubled and jitter reaches past the first one
}

TEST_CASE(
    "retry_policy: a local shortage (out of descriptors) is neither a backend failure nor "
    "retried") {
  auto d = decide_retry({try_failure::local_resource}, all_conditions, true, false);
  CHECK_FALSE(d.backend_failed);
  CHECK_FALSE(d.retry);
  CHECK_FALSE(d.uses_budget);
}
