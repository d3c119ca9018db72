// `braid container watch`: passes (container/pass.h) run when the disk
// changes, found by inotify, instead of by a schedule.
//
// A pass runs at the start; each folder it enters gets a watch (creations,
// deletions, writes, renames, attribute changes), so folders made later
// are watched from the pass that finds them. After an event the watcher
// waits for kQuiet without events (at most kLongestWait after the first),
// then runs a pass of what the events named (RunTargetedPass: those files,
// and new or moved folders walked whole), so its cost follows the changes.
// A full pass also runs every kSafetyPass, and at once when the kernel's
// event queue overflowed; the watch limit (fs.inotify.max_user_watches)
// reached is warned about: folders without a watch wait for the full pass.

#ifndef BRAID_CONTAINER_WATCH_H_
#define BRAID_CONTAINER_WATCH_H_

#include <chrono>
#include <functional>
#include <vector>

#include "braid/store.h"
#include "container/pass.h"
#include "container/state.h"

namespace braid::container {

inline constexpr std::chrono::milliseconds kQuiet{200};
inline constexpr std::chrono::milliseconds kLongestWait{1000};
inline constexpr std::chrono::minutes kSafetyPass{10};

struct WatchOptions {
  PassOptions pass;
  // After each pass of a container, from the watching thread: its summary
  // or its error. Returning false ends the watch.
  std::function<bool(const ContainerSpec&, const Result<PassSummary>&)> on_pass;
  // Polled between events (at least every 100 ms): true ends the watch.
  std::function<bool()> stop;
  // Taken around each pass (the instance's containers.lock); null: none.
  std::function<Status()> before_pass;
  std::function<void()> after_pass;
};

// Watches until options.stop or on_pass says so. Errors: inotify cannot
// be set up (IoError); before_pass's error.
Status Watch(Store& store, ContainerState& state, const std::vector<ContainerSpec>& specs,
             const WatchOptions& options);

}  // namespace braid::container

#endif  // BRAID_CONTAINER_WATCH_H_
