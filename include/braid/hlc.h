// Hybrid logical clock (HLC) timestamps.
//
// Encoding: one uint64_t, the upper 48 bits are wall-clock milliseconds since
// the Unix epoch, the lower 16 bits a logical counter that orders events
// within one millisecond (and absorbs clocks that went backwards). Comparing
// two encoded values as integers compares the timestamps. Zero means "never".
//
// braid stamps every field write with an HLC; field-level merges keep, per
// field, the write with the greater (HLC, instance id). Because each
// instance's HLC never repeats and never goes backwards, and each write's HLC
// exceeds every HLC the instance has seen, a write that causally follows
// another always wins over it.

#ifndef BRAID_HLC_H_
#define BRAID_HLC_H_

#include <cstdint>

#include "braid/clock.h"

namespace braid {

namespace hlc {
inline constexpr int kLogicalBits = 16;
inline constexpr uint64_t kLogicalMask = (uint64_t{1} << kLogicalBits) - 1;
inline constexpr uint64_t Make(int64_t millis, uint64_t logical) {
  return (static_cast<uint64_t>(millis) << kLogicalBits) | (logical & kLogicalMask);
}
inline constexpr int64_t Millis(uint64_t t) { return static_cast<int64_t>(t >> kLogicalBits); }
inline constexpr uint64_t Logical(uint64_t t) { return t & kLogicalMask; }
}  // namespace hlc

// Issues HLC timestamps for one instance.
// Thread-safety: none; the owner serializes calls (braid issues HLCs only
// inside the store's single write transaction).
class HybridClock {
 public:
  // `last` is the greatest timestamp issued or observed so far (persisted by
  // the store, so timestamps stay monotonic across restarts).
  explicit HybridClock(const Clock& clock, uint64_t last = 0) : clock_(&clock), last_(last) {}

  // A timestamp greater than every one issued or observed before.
  uint64_t Now();
  // Takes a timestamp seen on another instance into account, so that the
  // next Now() exceeds it.
  void Observe(uint64_t remote);
  uint64_t last() const { return last_; }

 private:
  const Clock* clock_;
  uint64_t last_;
};

}  // namespace braid

#endif  // BRAID_HLC_H_
