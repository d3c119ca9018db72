#include "autosync/scheduler.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid::autosync {
namespace {

constexpr int64_t kStart = 1'800'000'000'000;

TEST(AutoSyncTest, DelaysDoubleAfterFailuresUpToAnHour) {
  EXPECT_EQ(NextDelayMs(10, 0), 10'000);
  EXPECT_EQ(NextDelayMs(10, 1), 20'000);
  EXPECT_EQ(NextDelayMs(10, 3), 80'000);
  EXPECT_EQ(NextDelayMs(10, 40), kMaxBackoffMs);
  EXPECT_EQ(NextDelayMs(1, 100), kMaxBackoffMs);
  EXPECT_EQ(NextDelayMs(2 * 86400, 5), 2 * 86400 * 1000);  // a period longer than the cap
  EXPECT_EQ(Jitter(10'000, 0.5), 10'000);
  EXPECT_EQ(Jitter(10'000, 0.0), 9'000);
  EXPECT_GE(Jitter(10'000, 0.999), 10'990);
  EXPECT_EQ(Jitter(0, 0.0), 1);
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = testing::OpenTestStore(dir_.File("store.db"), &clock_); }

  void AddRemote(const std::string& name, const std::string& auto_sync) {
    Remote r;
    r.name = name;
    r.url = "http://127.0.0.1:9";
    r.rules.auto_sync = *ParseAutoSync(auto_sync);
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->PutRemote(r).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  Remote Get(const std::string& name) { return **store_->GetRemote(name); }

  testing::TempDir dir_;
  FakeClock clock_{kStart};
  std::unique_ptr<Store> store_;
};

TEST_F(SchedulerTest, RemotesRunOnTheirPeriodAndBackOffAfterFailures) {
  AddRemote("often", "10s");
  AddRemote("rarely", "1h");
  AddRemote("never", "off");
  AddRemote("broken", "10s");
  std::map<std::string, int> runs;
  Scheduler s(*store_, clock_, [&](const Remote& r) {
    ++runs[r.name];
    return r.name == "broken" ? Status::Unavailable("connection refused") : Status::OK();
  });
  // First seen: each gets a first run within a tenth of its period (at
  // most a second), spread out.
  ASSERT_EQ(*s.RunDue(), 0);
  EXPECT_GT(Get("often").next_sync_ms, 0);
  EXPECT_LE(Get("often").next_sync_ms, kStart + 1000);
  EXPECT_EQ(Get("never").next_sync_ms, 0);
  clock_.Advance(1000);
  ASSERT_EQ(*s.RunDue(), 3);
  EXPECT_EQ(runs["never"], 0);
  // A success: next run one period on, +-10%.
  const Remote often = Get("often");
  EXPECT_EQ(often.failures, 0);
  EXPECT_GE(often.next_sync_ms, clock_.NowMillis() + 9'000);
  EXPECT_LE(often.next_sync_ms, clock_.NowMillis() + 11'000);
  EXPECT_GE(Get("rarely").next_sync_ms, clock_.NowMillis() + 3'240'000);
  // Failures: counted, and the wait doubles.
  Remote broken = Get("broken");
  EXPECT_EQ(broken.failures, 1);
  EXPECT_GE(broken.next_sync_ms, clock_.NowMillis() + 18'000);
  for (int i = 0; i < 3; ++i) {
    clock_.Set(Get("broken").next_sync_ms);
    ASSERT_GE(*s.RunDue(), 1);
  }
  broken = Get("broken");
  EXPECT_EQ(broken.failures, 4);
  EXPECT_GE(broken.next_sync_ms, clock_.NowMillis() + 144'000);  // 160 s - 10%
  EXPECT_EQ(runs["broken"], 4);
  // Nothing is due in between.
  EXPECT_EQ(*s.RunDue(), 0);
}

TEST_F(SchedulerTest, ARunTheLockRefusesIsTriedSoonWithoutCountingAsAFailure) {
  AddRemote("a", "1h");
  int runs = 0;
  Scheduler s(*store_, clock_, [&](const Remote&) {
    return ++runs == 1 ? Status::Busy("another sync (pid 7) holds DIR/sync.lock") : Status::OK();
  });
  ASSERT_EQ(*s.RunDue(), 0);
  clock_.Advance(10'000);
  ASSERT_EQ(*s.RunDue(), 1);
  EXPECT_EQ(Get("a").failures, 0);
  EXPECT_EQ(Get("a").next_sync_ms, clock_.NowMillis() + kBusyRetryMs);
  clock_.Advance(kBusyRetryMs);
  ASSERT_EQ(*s.RunDue(), 1);
  EXPECT_EQ(runs, 2);
  EXPECT_GE(Get("a").next_sync_ms, clock_.NowMillis() + 3'240'000);
}

TEST_F(SchedulerTest, ASuccessResetsTheFailuresAndAShorterPeriodTakesEffect) {
  AddRemote("a", "1h");
  bool fail = true;
  Scheduler s(*store_, clock_,
              [&](const Remote&) { return fail ? Status::Unavailable("down") : Status::OK(); });
  ASSERT_EQ(*s.RunDue(), 0);
  clock_.Advance(400'000);
  ASSERT_EQ(*s.RunDue(), 1);
  EXPECT_EQ(Get("a").failures, 1);
  // `remote set a --auto-sync 10s`: the next run comes within the new period.
  AddRemote("a", "10s");
  ASSERT_EQ(*s.RunDue(), 0);
  EXPECT_LE(Get("a").next_sync_ms, clock_.NowMillis() + 1000);
  fail = false;
  clock_.Advance(1000);
  ASSERT_EQ(*s.RunDue(), 1);
  EXPECT_EQ(Get("a").failures, 0);
}

TEST_F(SchedulerTest, TheThreadRunsDueRemotesAndStops) {
  AddRemote("a", "1s");
  std::atomic<int> runs{0};
  SchedulerOptions o;
  o.max_sleep_ms = 5;
  Scheduler s(
      *store_, clock_,
      [&](const Remote&) {
        ++runs;
        return Status::OK();
      },
      o);
  s.Start();
  for (int i = 0; i < 400 && runs < 3; ++i) {
    clock_.Advance(200);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.Stop();
  EXPECT_GE(runs.load(), 3);
  const int after = runs;
  clock_.Advance(10'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(runs.load(), after);
}

}  // namespace
}  // namespace braid::autosync
