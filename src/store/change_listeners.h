// ChangeListeners: the functions a store calls after commits that add
// change-log events (Store::AddChangeListener; internal). Backends differ
// in how they hear of other processes' commits, not in this.
//
// Thread-safe. Notify() calls the functions outside the lock, so one may
// be removed (not re-entered) meanwhile.

#ifndef BRAID_STORE_CHANGE_LISTENERS_H_
#define BRAID_STORE_CHANGE_LISTENERS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "base/mutex.h"

namespace braid {

class ChangeListeners {
 public:
  uint64_t Add(std::function<void()> fn) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    const uint64_t id = next_++;
    fns_.emplace(id, std::move(fn));
    return id;
  }
  void Remove(uint64_t id) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    fns_.erase(id);
  }
  void Notify() EXCLUDES(mu_) {
    std::vector<std::function<void()>> fns;
    {
      MutexLock lock(mu_);
      fns.reserve(fns_.size());
      for (const auto& [id, fn] : fns_) fns.push_back(fn);
    }
    for (const auto& fn : fns) fn();
  }

 private:
  Mutex mu_;
  std::map<uint64_t, std::function<void()>> fns_ GUARDED_BY(mu_);
  uint64_t next_ GUARDED_BY(mu_) = 1;
};

}  // namespace braid

#endif  // BRAID_STORE_CHANGE_LISTENERS_H_
