#include "braid/clock.h"

#include <time.h>

#include <chrono>
#include <cstdio>

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

std::string Iso8601(int64_t unix_millis) {
  int64_t secs = unix_millis / 1000, ms = unix_millis % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  const time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

const Clock& Clock::Real() {
  static const RealClock* const clock = new RealClock();  // never destroyed: used at exit
  return *clock;
}

}  // namespace braid
