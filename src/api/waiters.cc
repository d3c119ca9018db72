#include "api/waiters.h"

#include <atomic>
#include <vector>

namespace braid::api {

struct Waiters::Waiter {
  uint64_t id = 0;
  std::function<void()> fn;
  std::shared_ptr<http::Timer> timer;
  std::atomic<bool> fired{false};
};

Waiters::~Waiters() {
  MutexLock lock(mu_);
  for (auto& [id, w] : waiting_) {
    if (w->timer) w->timer->Cancel();
  }
  waiting_.clear();
}

uint64_t Waiters::generation() const {
  MutexLock lock(mu_);
  return generation_;
}

bool Waiters::shutting_down() const {
  MutexLock lock(mu_);
  return shutdown_;
}

size_t Waiters::waiting() const {
  MutexLock lock(mu_);
  return waiting_.size();
}

void Waiters::Fire(const std::shared_ptr<Waiter>& w) {
  if (w->fired.exchange(true)) return;  // the other of notify/timer got there first
  if (w->timer) w->timer->Cancel();
  executor_.Post(std::move(w->fn));
}

void Waiters::Wait(uint64_t seen_generation, std::chrono::steady_clock::time_point deadline,
                   std::function<void()> fn) {
  auto w = std::make_shared<Waiter>();
  w->fn = std::move(fn);
  {
    MutexLock lock(mu_);
    if (!shutdown_ && generation_ == seen_generation) {
      w->id = next_id_++;
      waiting_.emplace(w->id, w);
      const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      // The timer holds the waiter weakly: a fired waiter is simply gone.
      std::weak_ptr<Waiter> weak = w;
      w->timer = executor_.RunAfter(std::max(delay, std::chrono::milliseconds(0)), [this, weak] {
        auto strong = weak.lock();
        if (!strong) return;
        {
          MutexLock lock(mu_);
          waiting_.erase(strong->id);
        }
        Fire(strong);
      });
      return;
    }
  }
  Fire(w);  // a commit (or shutdown) happened since the caller's query
}

void Waiters::Notify() {
  std::vector<std::shared_ptr<Waiter>> ready;
  {
    MutexLock lock(mu_);
    ++generation_;
    ready.reserve(waiting_.size());
    for (auto& [id, w] : waiting_) ready.push_back(std::move(w));
    waiting_.clear();
  }
  for (const auto& w : ready) Fire(w);
}

void Waiters::Shutdown() {
  {
    MutexLock lock(mu_);
    shutdown_ = true;
  }
  Notify();
}

namespace {

struct Poll : std::enable_shared_from_this<Poll> {
  Waiters* waiters;
  std::chrono::steady_clock::time_point deadline;
  std::function<std::optional<http::Response>(bool)> attempt;
  http::Responder respond;

  void Run() {
    const uint64_t generation = waiters != nullptr ? waiters->generation() : 0;
    const bool last = waiters == nullptr || waiters->shutting_down() ||
                      std::chrono::steady_clock::now() >= deadline;
    if (auto answer = attempt(last)) return respond(std::move(*answer));
    waiters->Wait(generation, deadline, [self = shared_from_this()] { self->Run(); });
  }
};

}  // namespace

void LongPoll(Waiters* waiters, std::chrono::steady_clock::time_point deadline,
              std::function<std::optional<http::Response>(bool last)> attempt,
              http::Responder respond) {
  auto poll = std::make_shared<Poll>();
  poll->waiters = waiters;
  poll->deadline = deadline;
  poll->attempt = std::move(attempt);
  poll->respond = std::move(respond);
  poll->Run();
}

}  // namespace braid::api
