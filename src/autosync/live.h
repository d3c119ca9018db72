// Live sync: a remote on `--auto-sync live` is replicated continuously in
// its direction (docs/remotes.md, "Live sync").
//
// Two threads per remote. The puller runs a pull session, then long-polls
// the remote (repl::WaitForChanges) until its FSIC moves past what that
// session saw, and pulls again: a write there reaches this store within
// about two round trips and a commit. The pusher runs a push session
// whenever this store commits (Store::AddChangeListener). Sessions resume
// from the FSICs (and a rule-shaped remote's marks) as every sync does, so
// a remote that restarts is caught up with and nothing is sent twice.
// Failures back off (doubling from 100 ms to 30 s, reset by a success);
// the remote's failures are kept in the store for `remote show`.
//
// Thread-safety: Start() and Stop() from one thread.

#ifndef BRAID_AUTOSYNC_LIVE_H_
#define BRAID_AUTOSYNC_LIVE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "braid/catalog.h"
#include "braid/store.h"
#include "repl/client.h"

namespace braid::autosync {

// The longest a puller's long-poll lasts: also the longest Stop() waits.
inline constexpr int64_t kLiveWaitMs = 2000;

class LiveLink {
 public:
  // Runs one session with `remote` whose direction is the one given (pull
  // or push): braid serve's holds the instance's sync lock around it.
  using SessionFn = std::function<Result<repl::SyncSummary>(const Remote& remote)>;

  LiveLink(Store& store, Remote remote, SessionFn session);
  ~LiveLink();  // Stop()

  void Start();
  void Stop();
  const Remote& remote() const { return remote_; }

 private:
  void Pull();
  void Push();
  // Sleeps `ms` unless stopped (false then).
  bool Pause(int64_t ms);
  void Failed(const Status& s, int64_t* backoff_ms);
  void Succeeded(int64_t* backoff_ms);

  Store& store_;
  const Remote remote_;
  SessionFn session_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool dirty_ = true;  // a commit since the last push
  std::atomic<int64_t> failures_{0};
  uint64_t listener_ = 0;
  std::thread puller_, pusher_;
};

}  // namespace braid::autosync

#endif  // BRAID_AUTOSYNC_LIVE_H_
