#include "index/follower.h"

#include <spdlog/spdlog.h>

#include "base/thread_priority.h"

namespace braid::index {

Follower::Follower(Store& store, SearchIndex& index) : store_(store), index_(index) {
  listener_ = store_.AddChangeListener([this] {
    MutexLock lock(mu_);
    wake_ = true;
    cv_.notify_all();
  });
  thread_ = std::thread([this] { Run(); });
}

Follower::~Follower() {
  store_.RemoveChangeListener(listener_);
  stopping_ = true;
  {
    MutexLock lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

Follower::State Follower::state() {
  MutexLock lock(mu_);
  return state_;
}

Follower::State Follower::WaitFor(uint64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&]() NO_THREAD_SAFETY_ANALYSIS {
    return state_.cursor >= seq || state_.rebuilding || !state_.error.empty() || stop_;
  });
  return state_;
}

void Follower::Run() {
  LowerThisThreadPriority();
  std::string last_error;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kFollowPoll, [&]() NO_THREAD_SAFETY_ANALYSIS { return wake_ || stop_; });
      if (stop_) return;
      wake_ = false;
    }
    UpdateOptions options;
    options.merge = false;
    options.cancelled = [this] { return stopping_.load(); };
    options.progress = [this](const UpdateProgress& p) {
      MutexLock lock(mu_);
      state_.rebuilding = p.full;
      state_.progress = p;
      cv_.notify_all();
    };
    Result<UpdateSummary> r = index_.Update(store_, options);
    {
      MutexLock lock(mu_);
      state_.rebuilding = false;
      if (r.ok()) {
        state_.merging = true;
        state_.cursor = r->cursor;
        state_.error.clear();
        last_error.clear();
        if (r->full) {
          spdlog::info("search index rebuilt ({}): {} records in {:.1f} s", r->why, r->docs,
                       r->seconds);
        }
      } else if (!stopping_) {
        state_.error = r.status().ToString();
        if (state_.error != last_error) {
          spdlog::warn("search index update failed (retrying every {} s): {}", kFollowPoll.count(),
                       state_.error);
          last_error = state_.error;
        }
      }
      cv_.notify_all();
    }
    MergeWhileIdle();
  }
}

void Follower::MergeWhileIdle() {
  for (;;) {
    {
      MutexLock lock(mu_);
      if (!state_.merging || wake_ || stop_) return;
    }
    const auto start = std::chrono::steady_clock::now();
    Result<bool> more = index_.MergeSome(kIdleMergePages);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    MutexLock lock(mu_);
    state_.merge_seconds += took.count();
    if (!more.ok()) {
      // The next update says what is wrong, if it lasts.
      spdlog::debug("search index merge failed: {}", more.status().ToString());
      state_.merging = false;
    } else if (!*more) {
      state_.merging = false;
    }
  }
}

}  // namespace braid::index
