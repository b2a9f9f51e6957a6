#include "http/retry_policy.hpp"

namespace tally::proxy {

namespace {

using rc = config::retry_condition;

rc status_condition(unsigned status) noexcept {
  return status == 502 ? rc::status_502 : status == 503 ? rc::status_503 : rc::status_504;
}

}  // namespace

retry_decision decide_retry(const try_report& t, const config::retry_config& cfg, bool may_replay,
                            bool last_try) noexcept {
  retry_decision d;
  switch (t.failure) {
    case try_failure::none:
      if (t.status < 500) return d;
      d.backend_failed = true;
      d.uses_budget = true;
      d.reason = status_condition(t.status);
      // Only 502, 503 and 504 are retry.on words: a 500 is the application's own answer.
      d.retry = may_replay && t.status >= 502 && t.status <= 504 && cfg.retries_on(d.reason);
      break;
    case try_failure::client_body:
    case try_failure::local_resource:
      return d;
    case try_failure::connect:
    case try_failure::tls_handshake:
      d.backend_failed = true;
      d.reason = rc::connect_failure;
      d.retry = cfg.retries_on(rc::connect_failure);
      break;
    case try_failure::connect_timeout:
      d.backend_failed = true;
      d.reason = rc::connect_failure;
      d.retry = cfg.retries_on(rc::connect_failure) || cfg.retries_on(rc::timeout);
      break;
    case try_failure::send:
    case try_failure::response_error:
      d.backend_failed = true;
      d.uses_budget = true;
      d.reason = rc::reset;
      d.retry = may_replay && !t.body_consumed && cfg.retries_on(rc::reset);
      break;
    case try_failure::response_timeout:
      d.backend_failed = true;
      d.uses_budget = true;
      d.reason = rc::timeout;
      d.retry = may_replay && cfg.retries_on(rc::timeout);
      break;
  }
  d.retry = d.retry && !last_try;
  return d;
}

}  // namespace tally::proxy
