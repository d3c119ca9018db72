#include "braid/clock.h"

#include <chrono>

namespace braid {
namespace {

class RealClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

const Clock& Clock::Real() {
  static const RealClock* const clock = new RealClock();  // never destroyed: used at exit
  return *clock;
}

}  // namespace braid
