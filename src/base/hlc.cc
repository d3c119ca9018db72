#include "braid/hlc.h"

#include <algorithm>

namespace braid {

uint64_t HybridClock::Now() {
  const uint64_t physical = hlc::Make(std::max<int64_t>(clock_->NowMillis(), 0), 0);
  // Either the wall clock moved past everything seen (logical restarts at 0),
  // or it did not (same millisecond, or set back): count on from the last.
  last_ = std::max(physical, last_ + 1);
  return last_;
}

void HybridClock::Observe(uint64_t remote) { last_ = std::max(last_, remote); }

}  // namespace braid
