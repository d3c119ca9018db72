#include "autosync/live.h"

#include <algorithm>

#include "base/log.h"

namespace braid::autosync {
namespace {

constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxLiveBackoffMs = 30'000;

Remote OneWay(Remote r, Direction d) {
  r.direction = d;
  return r;
}

}  // namespace

LiveLink::LiveLink(Store& store, Remote remote, SessionFn session)
    : store_(store), remote_(std::move(remote)), session_(std::move(session)) {}

LiveLink::~LiveLink() { Stop(); }

void LiveLink::Start() {
  if (remote_.direction != Direction::kPush) puller_ = std::thread([this] { Pull(); });
  if (remote_.direction != Direction::kPull) {
    listener_ = store_.AddChangeListener([this] {
      {
        std::lock_guard lock(mu_);
        dirty_ = true;
      }
      wake_.notify_all();
    });
    pusher_ = std::thread([this] { Push(); });
  }
  spdlog::info("live sync with {} ({}) started", remote_.name, DirectionName(remote_.direction));
}

void LiveLink::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (listener_ != 0) store_.RemoveChangeListener(listener_);
  if (puller_.joinable()) puller_.join();
  if (pusher_.joinable()) pusher_.join();
}

bool LiveLink::Pause(int64_t ms) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
  return !stop_;
}

void LiveLink::Failed(const Status& s, int64_t* backoff_ms) {
  const int64_t n = ++failures_;
  spdlog::warn("live sync with {} failed ({} in a row; again in {} ms): {}", remote_.name, n,
               *backoff_ms, s.ToString());
  if (auto txn = store_.BeginWrite(); txn.ok()) {
    if ((*txn)->ScheduleSync(remote_.name, n, 0).ok()) (void)(*txn)->Commit();
  }
  Pause(*backoff_ms);
  *backoff_ms = std::min(*backoff_ms * 2, kMaxLiveBackoffMs);
}

void LiveLink::Succeeded(int64_t* backoff_ms) {
  *backoff_ms = kFirstBackoffMs;
  if (failures_.exchange(0) == 0) return;
  spdlog::info("live sync with {} works again", remote_.name);
  if (auto txn = store_.BeginWrite(); txn.ok()) {
    if ((*txn)->ScheduleSync(remote_.name, 0, 0).ok()) (void)(*txn)->Commit();
  }
}

void LiveLink::Pull() {
  const Remote pull = OneWay(remote_, Direction::kPull);
  int64_t backoff = kFirstBackoffMs;
  VersionVector seen;
  bool synced = false;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    if (synced) {
      // Until the remote has something this store has not seen.
      auto fsic = remote_.cert.empty()
                      ? repl::WaitForChanges(remote_, seen, kLiveWaitMs)
                      : Result<VersionVector>(Status::InvalidArgument("certificate remote"));
      if (!fsic.ok() && fsic.status().code() == Code::kInvalidArgument) {
        // No long-poll with a certificate: a session every second instead.
        if (!Pause(1000)) return;
      } else if (!fsic.ok()) {
        Failed(fsic.status(), &backoff);
        continue;
      } else {
        // Its entry for this instance moves with what this instance
        // pushed: nothing to pull.
        bool moved = false;
        for (const auto& [origin, counter] : fsic->entries()) {
          moved = moved || (counter > seen.Get(origin) && origin != store_.instance_id());
        }
        if (!moved) continue;
      }
    }
    auto summary = session_(pull);
    if (!summary.ok()) {
      Failed(summary.status(), &backoff);
      synced = false;
      continue;
    }
    Succeeded(&backoff);
    seen = summary->server_fsic;
    synced = true;
  }
}

void LiveLink::Push() {
  const Remote push = OneWay(remote_, Direction::kPush);
  int64_t backoff = kFirstBackoffMs;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stop_ || dirty_; });
      if (stop_) return;
      dirty_ = false;
    }
    auto summary = session_(push);
    if (!summary.ok()) {
      {
        std::lock_guard lock(mu_);
        dirty_ = true;  // what was not pushed still is to be
      }
      Failed(summary.status(), &backoff);
      continue;
    }
    Succeeded(&backoff);
  }
}

}  // namespace braid::autosync
