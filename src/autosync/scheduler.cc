#include "autosync/scheduler.h"

#include <algorithm>
#include <random>

#include "base/log.h"
#include "base/metrics.h"

namespace braid::autosync {
namespace {

struct AutoSyncMetrics {
  Counter* runs;
  Counter* failures;
};

AutoSyncMetrics& M() {
  static AutoSyncMetrics m{
      braid::Metrics::Global().GetCounter("braid_autosync_runs_total",
                                          "Auto-syncs of remotes run by braid serve."),
      braid::Metrics::Global().GetCounter("braid_autosync_failures_total",
                                          "Auto-syncs that failed (each backs off)."),
  };
  return m;
}

double Unit() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

int64_t NextDelayMs(int64_t period_seconds, int64_t failures) {
  const int64_t period = std::max<int64_t>(period_seconds, 1) * 1000;
  if (failures <= 0) return period;
  const int64_t cap = std::max(kMaxBackoffMs, period);
  int64_t delay = period;
  for (int64_t i = 0; i < failures && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

int64_t Jitter(int64_t delay_ms, double unit) {
  const double moved = static_cast<double>(delay_ms) * (0.9 + 0.2 * unit);
  return std::max<int64_t>(1, static_cast<int64_t>(moved));
}

Scheduler::Scheduler(Store& store, const Clock& clock, Runner runner, SchedulerOptions options,
                     LiveLink::SessionFn live)
    : store_(store),
      clock_(clock),
      runner_(std::move(runner)),
      options_(options),
      live_session_(std::move(live)) {
  (void)M();
}

Scheduler::~Scheduler() { Stop(); }

namespace {

// What a live link was started with: any change restarts it.
bool SameLink(const Remote& a, const Remote& b) {
  return a.url == b.url && a.token == b.token && a.user == b.user && a.cert == b.cert &&
         a.ca_cert == b.ca_cert && a.direction == b.direction && a.filter == b.filter &&
         a.chunk_size == b.chunk_size && a.rules == b.rules;
}

}  // namespace

void Scheduler::KeepLive(const std::vector<Remote>& remotes) {
  if (!live_session_) return;
  std::map<std::string, const Remote*> wanted;
  for (const Remote& r : remotes) {
    if (r.rules.auto_sync.live) wanted[r.name] = &r;
  }
  for (auto it = live_.begin(); it != live_.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || !SameLink(it->second->remote(), *w->second)) {
      it->second->Stop();
      spdlog::info("live sync with {} stopped", it->first);
      it = live_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, r] : wanted) {
    if (live_.contains(name)) continue;
    auto link = std::make_unique<LiveLink>(store_, *r, live_session_);
    link->Start();
    live_.emplace(name, std::move(link));
  }
}

void Scheduler::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& [name, link] : live_) link->Stop();
  live_.clear();
}

Status Scheduler::Keep(const Remote& remote, int64_t failures, int64_t next_ms) {
  BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->ScheduleSync(remote.name, failures, next_ms));
  return txn->Commit();
}

Result<int> Scheduler::RunDue() {
  BRAID_ASSIGN_OR_RETURN(const std::vector<Remote> remotes, store_.ListRemotes());
  KeepLive(remotes);
  int ran = 0;
  int64_t earliest = 0;
  for (const Remote& r : remotes) {
    const AutoSync& a = r.rules.auto_sync;
    if (a.period_seconds <= 0) continue;  // off, or live (not scheduled by period)
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    int64_t now = clock_.NowMillis();
    int64_t next = r.next_sync_ms;
    if (next == 0 || next > now + NextDelayMs(a.period_seconds, r.failures) * 11 / 10) {
      // First seen (or its period was shortened): the first run within a
      // tenth of the period (at most a second), spread out, not all at once;
      // never in this pass, so a first-seen remote is always scheduled first.
      const double spread = static_cast<double>(std::min<int64_t>(a.period_seconds, 10) * 100 - 1);
      next = now + 1 + static_cast<int64_t>(Unit() * spread);
      BRAID_RETURN_IF_ERROR(Keep(r, r.failures, next));
    }
    if (next > now) {
      earliest = earliest == 0 ? next : std::min(earliest, next);
      continue;
    }
    const Status s = runner_(r);
    ++ran;
    M().runs->Add();
    now = clock_.NowMillis();
    int64_t failures = r.failures;
    if (s.ok()) {
      failures = 0;
      next = now + Jitter(NextDelayMs(a.period_seconds, 0), Unit());
      spdlog::debug("auto-sync of {}: done; next in {} ms", r.name, next - now);
    } else if (s.code() == Code::kBusy) {
      next = now + std::min(kBusyRetryMs, NextDelayMs(a.period_seconds, 0));
      spdlog::info("auto-sync of {}: {}; trying again in {} ms", r.name, s.message(), next - now);
    } else {
      ++failures;
      M().failures->Add();
      next = now + Jitter(NextDelayMs(a.period_seconds, failures), Unit());
      spdlog::warn("auto-sync of {} failed ({} in a row; next try in {} s): {}", r.name, failures,
                   (next - now + 999) / 1000, s.ToString());
    }
    BRAID_RETURN_IF_ERROR(Keep(r, failures, next));
    earliest = earliest == 0 ? next : std::min(earliest, next);
  }
  std::lock_guard lock(mu_);
  next_due_ms_ = earliest;
  return ran;
}

void Scheduler::Loop() {
  for (;;) {
    auto ran = RunDue();
    if (!ran.ok()) spdlog::warn("auto-sync: {}", ran.status().ToString());
    std::unique_lock lock(mu_);
    if (stop_) return;
    int64_t sleep = options_.max_sleep_ms;
    if (next_due_ms_ > 0) {
      sleep = std::clamp<int64_t>(next_due_ms_ - clock_.NowMillis(), 1, options_.max_sleep_ms);
    }
    wake_.wait_for(lock, std::chrono::milliseconds(sleep), [this] { return stop_; });
    if (stop_) return;
  }
}

}  // namespace braid::autosync
