#include "base/thread_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

namespace braid {
namespace {

int NiceOfThisThread() { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); }

// Only the calling thread is lowered; the thread that started it keeps its
// priority (on Linux nice is per thread).
TEST(ThreadPriorityTest, LowersOnlyTheCallingThread) {
  const int before = NiceOfThisThread();
  if (before >= 10) GTEST_SKIP() << "this test already runs at nice " << before;
  int helper = before;
  std::thread t([&helper] {
    LowerThisThreadPriority();
    helper = NiceOfThisThread();
  });
  t.join();
  EXPECT_GT(helper, before);
  EXPECT_EQ(NiceOfThisThread(), before);
}

}  // namespace
}  // namespace braid
