// Clock: where braid reads the time. Injected everywhere time matters (HLCs,
// change-log timestamps, compaction horizons, expiry, scheduling) so tests
// can drive it deterministically.
//
// Thread-safety: implementations are safe to call from any thread.

#ifndef BRAID_CLOCK_H_
#define BRAID_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace braid {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch. May go backwards when the
  // system clock is set back; HybridClock absorbs that.
  virtual int64_t NowMillis() const = 0;

  // The process-wide real clock (CLOCK_REALTIME). Never destroyed.
  static const Clock& Real();
};

// ISO-8601 in UTC with milliseconds: "2026-12-03T22:01:47.123Z".
std::string Iso8601(int64_t unix_millis);

// A clock that only moves when told to. For tests.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_millis) : now_(now_millis) {}
  int64_t NowMillis() const override { return now_.load(std::memory_order_relaxed); }
  void Set(int64_t now_millis) { now_.store(now_millis, std::memory_order_relaxed); }
  void Advance(int64_t millis) { now_.fetch_add(millis, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace braid

#endif  // BRAID_CLOCK_H_
