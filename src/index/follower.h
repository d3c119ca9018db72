// Keeps a search index in line with a store while `braid serve` runs: a
// thread woken after every commit that adds change-log events (of this
// process or another, Store::AddChangeListener), and every kFollowPoll for
// what adds none (index settings), runs SearchIndex::Update. A write's
// changes reach the index right after its commit, usually within
// milliseconds; a search can wait for them (WaitFor) to see every write
// acknowledged before it began. A full rebuild runs on the same thread,
// while searches read the previous generation.
//
// Updates leave FTS5's segment merges out (UpdateOptions::merge), so that a
// write is searchable without waiting for them: the thread merges
// kIdleMergePages at a time while no write is waiting, and a write that
// comes meanwhile waits for one slice at most.

#ifndef BRAID_INDEX_FOLLOWER_H_
#define BRAID_INDEX_FOLLOWER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "braid/store.h"
#include "index/search_index.h"

namespace braid::index {

inline constexpr std::chrono::seconds kFollowPoll{2};
inline constexpr int64_t kIdleMergePages = 200;

class Follower {
 public:
  // Starts the thread; `store` and `index` must outlive the Follower.
  Follower(Store& store, SearchIndex& index);
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  struct State {
    uint64_t cursor = 0;       // the change-log seq the index has dealt with
    bool rebuilding = false;   // a full rebuild is running
    UpdateProgress progress;   // of the running update
    std::string error;         // the last update's error; empty when it worked
    bool merging = false;      // merges remain (or run) while no write waits
    double merge_seconds = 0;  // spent merging segments since the start
  };
  State state();

  // Waits until the index has dealt with change-log seq `seq` or `timeout`
  // passed; returns at once while a full rebuild runs or when the last
  // update failed. Returns the state then.
  State WaitFor(uint64_t seq, std::chrono::milliseconds timeout);

 private:
  void Run();
  // Merges slices while no write waits and merges remain.
  void MergeWhileIdle();

  Store& store_;
  SearchIndex& index_;
  uint64_t listener_ = 0;
  Mutex mu_;
  CondVar cv_;  // wake_, stop_ and state_ changes
  bool wake_ GUARDED_BY(mu_) = true;
  bool stop_ GUARDED_BY(mu_) = false;
  std::atomic<bool> stopping_{false};  // stop_, for updates to ask between pages
  State state_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace braid::index

#endif  // BRAID_INDEX_FOLLOWER_H_
