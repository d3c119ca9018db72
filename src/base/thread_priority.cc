#include "base/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

namespace braid {

void LowerThisThreadPriority() {
  constexpr int kHelperNice = 10;
  // On Linux the nice value belongs to the thread named by its tid.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kHelperNice);
}

}  // namespace braid
