#include "braid/hlc.h"

#include <gtest/gtest.h>

namespace braid {
namespace {

TEST(HlcTest, FollowsTheWallClockWhenItMoves) {
  FakeClock clock(1'000);
  HybridClock hlc(clock);
  EXPECT_EQ(hlc.Now(), hlc::Make(1'000, 0));
  clock.Advance(5);
  EXPECT_EQ(hlc.Now(), hlc::Make(1'005, 0));
}

TEST(HlcTest, CountsWithinAMillisecondAndWhenTheClockGoesBack) {
  FakeClock clock(1'000);
  HybridClock hlc(clock);
  const uint64_t a = hlc.Now();
  const uint64_t b = hlc.Now();
  EXPECT_EQ(b, a + 1);
  EXPECT_EQ(hlc::Millis(b), 1'000);
  EXPECT_EQ(hlc::Logical(b), 1u);
  clock.Set(500);  // set back
  const uint64_t c = hlc.Now();
  EXPECT_GT(c, b);
  EXPECT_EQ(hlc::Millis(c), 1'000);
}

TEST(HlcTest, ObservedTimestampsAreExceeded) {
  FakeClock clock(1'000);
  HybridClock hlc(clock);
  const uint64_t remote = hlc::Make(2'000, 7);
  hlc.Observe(remote);
  EXPECT_GT(hlc.Now(), remote);
  hlc.Observe(hlc::Make(10, 0));  // an older one changes nothing
  EXPECT_EQ(hlc::Millis(hlc.Now()), 2'000);
}

TEST(HlcTest, ResumesAfterAPersistedValue) {
  FakeClock clock(1'000);
  HybridClock hlc(clock, hlc::Make(5'000, 3));
  EXPECT_EQ(hlc.Now(), hlc::Make(5'000, 4));
}

}  // namespace
TEST(ClockTest, Iso8601IsUtcWithMilliseconds) {
  EXPECT_EQ(Iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(Iso8601(1'796'335'307'123), "2026-12-03T22:01:47.123Z");
  EXPECT_EQ(Iso8601(-1), "1969-12-31T23:59:59.999Z");
}

}  // namespace braid
