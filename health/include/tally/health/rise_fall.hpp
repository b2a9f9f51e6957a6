// The hysteresis of active health checks as a pure function: `rise` consecutive successes bring
// a down backend up, `fall` consecutive failures take an up backend down. No clock, no I/O, so
// every sequence can be tested directly (STYLE practice 8).
#pragma once

#include <limits>

namespace tally::health {

struct rise_fall_state {
  bool up = true;          // SPEC: a backend starts up unless a checkpoint restores a verdict
  unsigned successes = 0;  // current run of consecutive successful checks
  unsigned failures = 0;   // current run of consecutive failed checks
};

enum class transition { none, went_up, went_down };

// Starting state for a backend whose current verdict is `up` (from the backend object, which a
// checkpoint may have restored).
inline rise_fall_state initial_rise_fall(bool up) {
  return rise_fall_state{up, 0, 0};
}

// Folds one check result into `s`. The runs are kept as plain streaks (a success clears the
// failure run and vice versa) rather than reset on a flip, so after a flip the run that caused
// it is still readable for the log line. A `rise` or `fall` of 0 behaves as 1. A reload may
// lower the thresholds below a run already counted; the next result then flips at once.
inline transition observe(rise_fall_state& s, bool ok, unsigned rise, unsigned fall) {
  constexpr unsigned max_run = std::numeric_limits<unsigned>::max();
  if (ok) {
    s.failures = 0;
    if (s.successes != max_run) ++s.successes;
    if (!s.up && s.successes >= (rise == 0 ? 1u : rise)) {
      s.up = true;
      return transition::went_up;
    }
  } else {
    s.successes = 0;
    if (s.failures != max_run) ++s.failures;
    if (s.up && s.failures >= (fall == 0 ? 1u : fall)) {
      s.up = false;
      return transition::went_down;
    }
  }
  return transition::none;
}

}  // namespace tally::health
