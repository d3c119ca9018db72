// Long-poll support: handlers waiting for the next change-log commit.
//
// A handler reads the generation, runs its query, and when there is nothing
// to answer yet calls Wait() with that generation: if a commit happened in
// between (the generation moved) its callback is posted at once, so a commit
// racing with the query is never missed. Otherwise the callback runs when the
// next commit is notified, at the deadline, or at shutdown, whichever comes
// first, exactly once, on the executor's threads.
//
// Thread-safety: all methods may be called from any thread.

#ifndef BRAID_API_WAITERS_H_
#define BRAID_API_WAITERS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "base/mutex.h"
#include "http/server.h"

namespace braid::api {

class Waiters {
 public:
  explicit Waiters(http::Executor& executor) : executor_(executor) {}
  ~Waiters();

  uint64_t generation() const;
  void Wait(uint64_t seen_generation, std::chrono::steady_clock::time_point deadline,
            std::function<void()> fn);
  // A commit happened: run every waiting callback.
  void Notify();
  // From now on Wait() posts callbacks at once; running waiters are released.
  void Shutdown();
  bool shutting_down() const;
  size_t waiting() const;

 private:
  struct Waiter;
  void Fire(const std::shared_ptr<Waiter>& w);

  http::Executor& executor_;
  mutable Mutex mu_;
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  bool shutdown_ GUARDED_BY(mu_) = false;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Waiter>> waiting_ GUARDED_BY(mu_);
};

// One long-poll (the delta feed's, a live remote's wait): `attempt(last)`
// reads what there is and returns the answer, or nullopt when there is
// nothing to answer yet; it is run now, and again after each commit,
// until it answers. At the deadline, at shutdown, or without `waiters` it
// runs once more with `last` true and must answer. The generation is read
// before each attempt, so a commit landing during one calls back at once.
void LongPoll(Waiters* waiters, std::chrono::steady_clock::time_point deadline,
              std::function<std::optional<http::Response>(bool last)> attempt,
              http::Responder respond);

}  // namespace braid::api

#endif  // BRAID_API_WAITERS_H_
