#include <doctest/doctest.h>

#include <string>

#include "tally/health/rise_fall.hpp"

namespace tally::health {

namespace {

// Feeds "+" (success) and "-" (failure) and returns the flips as "U"/"D", "." for none.
std::string run(rise_fall_state& s, std::string_view results, unsigned rise, unsigned fall) {
  std::string out;
  for (char c : results) {
    switch (observe(s, c == '+', rise, fall)) {
      case transition::went_up:
        out += 'U';
        break;
      case transition::went_down:
        out += 'D';
        break;
      case transition::none:
        out += '.';
        break;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("rise_fall: starts in the given state") {
  CHECK(initial_rise_fall(true).up);
  CHECK_FALSE(initial_rise_fall(false).up);
  CHECK(rise_fall_state{}.up);  // SPEC: up unless a checkpoint says otherwise
}

TEST_CASE("rise_fall: fall consecutive failures take an up backend down - once") {
  auto s = initial_rise_fall(true);
  CHECK(run(s, "--", 2, 3) == "..");
  CHECK(s.up);
  CHECK(run(s, "-", 2, 3) == "D");
  CHECK_FALSE(s.up);
  CHECK(s.failures == 3);  // the run that caused the flip stays readable
  CHECK(run(s, "----", 2, 3) == "....");
}

TEST_CASE("rise_fall: a success interrupts a failure run") {
  auto s = initial_rise_fall(true);
  CHECK(run(s, "--+--+--+", 2, 3) == ".........");
  CHECK(s.up);
  CHECK(run(s, "---", 2, 3) == "..D");
}

TEST_CASE("rise_fall: rise consecutive successes bring a down backend up") {
  auto s = initial_rise_fall(false);
  CHECK(run(s, "+-+-", 2, 3) == "....");
  CHECK_FALSE(s.up);
  CHECK(run(s, "++", 2, 3) == ".U");
  CHECK(s.successes == 2);
  CHECK(run(s, "+++", 2, 3) == "...");
}

TEST_CASE("rise_fall: a full cycle") {
  auto s = initial_rise_fall(true);
  CHECK(run(s, "+++---++-+++---", 3, 3) == ".....D.....U..D");
}

TEST_CASE("rise_fall: rise and fall of 1 flip on every change - 0 behaves as 1") {
  auto s = initial_rise_fall(true);
  CHECK(run(s, "-+-+", 1, 1) == "DUDU");
  auto z = initial_rise_fall(true);
  CHECK(run(z, "-+", 0, 0) == "DU");
}

TEST_CASE("rise_fall: a threshold lowered below the current run flips on the next result") {
  auto s = initial_rise_fall(true);
  CHECK(run(s, "----", 2, 5) == "....");
  CHECK(run(s, "-", 2, 3) == "D");
  CHECK(s.failures == 5);
}

}  // namespace tally::health
