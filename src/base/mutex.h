// Mutex and MutexLock with clang thread-safety annotations, so fields marked
// GUARDED_BY(mu_) are checked by -Wthread-safety (one CI build uses clang).
// With other compilers the annotations expand to nothing.

#ifndef BRAID_BASE_MUTEX_H_
#define BRAID_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define BRAID_TSA(x) __attribute__((x))
#else
#define BRAID_TSA(x)
#endif

#define CAPABILITY(x) BRAID_TSA(capability(x))
#define SCOPED_CAPABILITY BRAID_TSA(scoped_lockable)
#define GUARDED_BY(x) BRAID_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) BRAID_TSA(pt_guarded_by(x))
#define ACQUIRE(...) BRAID_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) BRAID_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) BRAID_TSA(try_acquire_capability(__VA_ARGS__))
#define REQUIRES(...) BRAID_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) BRAID_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRED_BEFORE(...) BRAID_TSA(acquired_before(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS BRAID_TSA(no_thread_safety_analysis)

namespace braid {

class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // For std::condition_variable_any and std::unique_lock.
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// A mutex whose waiters can give up: for locks held across work of
// unbounded length (a store's write transaction), so that a waiter fails
// with Busy after its timeout instead of blocking without bound.
class CAPABILITY("mutex") TimedMutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // True with the lock held; false when `timeout` passed without it.
  bool TryLockFor(std::chrono::milliseconds timeout) TRY_ACQUIRE(true) {
    return mu_.try_lock_for(timeout);
  }

 private:
  std::timed_mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

using CondVar = std::condition_variable_any;

}  // namespace braid

#endif  // BRAID_BASE_MUTEX_H_
