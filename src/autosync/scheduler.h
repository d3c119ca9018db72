// Auto-sync: `braid serve` syncs each remote whose rules say so
// (RemoteRules::auto_sync) on its period, by itself (SENAITE.SYNC's
// auto-sync; docs/remotes.md, "Auto-sync").
//
// One thread. Each round it reads the remotes (a small table: a change
// made by `braid remote set` in another process is seen within a second),
// and runs those that are due, one at a time, through the runner it was
// given (braid serve's: the cache and attachments steps under the
// instance's sync lock, which a `braid sync` from the CLI shares). After a
// run the remote's next run is kept in the store (Remote::next_sync_ms,
// failures): its period after a success, a backoff after a failure (the
// period doubled per failure in a row, up to an hour or the period if
// longer), both with +-10% jitter so that many remotes on one period do not
// all start at once. A run the sync lock refuses (another sync holds it) is
// tried again a few seconds later without counting as a failure. Remotes
// on `--auto-sync live` get a LiveLink each, restarted when the remote's
// settings change and stopped when it is no longer live.
//
// Thread-safety: Start() and Stop() from one thread.

#ifndef BRAID_AUTOSYNC_SCHEDULER_H_
#define BRAID_AUTOSYNC_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include <map>
#include <memory>
#include <string>

#include "autosync/live.h"
#include "braid/catalog.h"
#include "braid/clock.h"
#include "braid/status.h"
#include "braid/store.h"

namespace braid::autosync {

// The longest wait after failures, unless the period is longer.
inline constexpr int64_t kMaxBackoffMs = 3600 * 1000;
// How long a run waits when the sync lock is held by another sync.
inline constexpr int64_t kBusyRetryMs = 3000;

// The wait before the next run of a remote on `period_seconds` after
// `failures` failed runs in a row (0: its period), before jitter.
int64_t NextDelayMs(int64_t period_seconds, int64_t failures);
// `delay_ms` moved by up to +-10%: `unit` in [0, 1) picks where (0.5: not at all).
int64_t Jitter(int64_t delay_ms, double unit);

struct SchedulerOptions {
  // The longest a round sleeps: how soon a change of the remotes is seen.
  int64_t max_sleep_ms = 1000;
};

class Scheduler {
 public:
  // Runs one remote's sync; Busy when another sync holds the lock.
  using Runner = std::function<Status(const Remote&)>;

  // `live` runs one session of a remote on `--auto-sync live` (LiveLink);
  // none: such remotes are left alone.
  Scheduler(Store& store, const Clock& clock, Runner runner, SchedulerOptions options = {},
            LiveLink::SessionFn live = {});
  ~Scheduler();  // Stop()

  void Start();
  // Wakes the thread and waits for it (and a run in flight) to end.
  void Stop();

  // Runs the remotes that are due now, once; returns how many ran. The
  // thread's round, for tests that drive time with a FakeClock.
  Result<int> RunDue();

 private:
  void Loop();
  // Starts, restarts (the remote changed) or stops the live links.
  void KeepLive(const std::vector<Remote>& remotes);
  // Keeps a remote's state after a run (or when first seen).
  Status Keep(const Remote& remote, int64_t failures, int64_t next_ms);

  Store& store_;
  const Clock& clock_;
  Runner runner_;
  SchedulerOptions options_;
  LiveLink::SessionFn live_session_;
  std::map<std::string, std::unique_ptr<LiveLink>> live_;  // the thread's
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  int64_t next_due_ms_ = 0;  // the earliest next run RunDue saw
  std::thread thread_;
};

}  // namespace braid::autosync

#endif  // BRAID_AUTOSYNC_SCHEDULER_H_
