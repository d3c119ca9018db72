#include "container/watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "base/log.h"

namespace braid::container {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                           IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                           IN_DONT_FOLLOW;

class Watcher {
 public:
  Watcher(Store& store, ContainerState& state, const std::vector<ContainerSpec>& specs,
          const WatchOptions& options, int fd)
      : store_(store), state_(state), specs_(specs), options_(options), fd_(fd) {}

  Status Run() {
    std::vector<bool> dirty(specs_.size(), true);
    bool pending = false;  // events since the last pass
    Clock::time_point first{}, last{};
    auto next_safety = Clock::now() + kSafetyPass;
    for (;;) {
      if (options_.stop && options_.stop()) return Status::OK();
      const auto now = Clock::now();
      const bool due = pending && (now - last >= kQuiet || now - first >= kLongestWait);
      if (due || overflowed_ || now >= next_safety || AnyDirtyAtStart(dirty)) {
        if (overflowed_ || now >= next_safety) dirty.assign(specs_.size(), true);
        overflowed_ = false;
        started_ = true;
        pending = false;
        for (size_t i = 0; i < specs_.size(); ++i) {
          if (!dirty[i]) continue;
          dirty[i] = false;
          BRAID_ASSIGN_OR_RETURN(const bool go_on, PassOf(i));
          if (!go_on) return Status::OK();
        }
        next_safety = Clock::now() + kSafetyPass;
        continue;
      }
      pollfd p{fd_, POLLIN, 0};
      const int n = ::poll(&p, 1, 100);
      if (n < 0 && errno != EINTR) return Status::IoError(std::string("poll: ") + strerror(errno));
      if (n <= 0) continue;
      if (Drain(&dirty)) {
        last = Clock::now();
        if (!pending) first = last;
        pending = true;
      }
    }
  }

 private:
  bool AnyDirtyAtStart(const std::vector<bool>& dirty) const {
    if (started_) return false;
    for (bool d : dirty) {
      if (d) return true;
    }
    return false;
  }

  Result<bool> PassOf(size_t i) {
    const ContainerSpec& spec = specs_[i];
    if (options_.before_pass) BRAID_RETURN_IF_ERROR(options_.before_pass());
    PassOptions pass = options_.pass;
    pass.on_folder = [&](const std::string& folder) { AddWatch(i, spec.dir + "/" + folder); };
    Result<PassSummary> r = RunPass(store_, state_, spec, pass);
    if (options_.after_pass) options_.after_pass();
    return !options_.on_pass || options_.on_pass(spec, r);
  }

  void AddWatch(size_t container, const std::string& path) {
    const int wd = inotify_add_watch(fd_, path.c_str(), kMask);
    if (wd >= 0) {
      owner_[wd] = container;
      return;
    }
    if (errno == ENOSPC && !limit_warned_) {
      limit_warned_ = true;
      spdlog::warn(
          "the inotify watch limit is reached (raise fs.inotify.max_user_watches); folders "
          "without a watch are looked at by the pass every {} minutes",
          kSafetyPass.count());
    }
  }

  // Reads every pending event; marks the containers they concern. True
  // when any did.
  bool Drain(std::vector<bool>* dirty) {
    alignas(inotify_event) char buf[64 * 1024];
    bool any = false;
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return any;
      for (ssize_t off = 0; off < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        if (e->mask & IN_Q_OVERFLOW) {
          overflowed_ = true;
          continue;
        }
        if (e->mask & IN_IGNORED) {
          owner_.erase(e->wd);
          continue;
        }
        const auto it = owner_.find(e->wd);
        if (it == owner_.end()) continue;
        (*dirty)[it->second] = true;
        any = true;
      }
    }
  }

  Store& store_;
  ContainerState& state_;
  const std::vector<ContainerSpec>& specs_;
  const WatchOptions& options_;
  const int fd_;
  std::unordered_map<int, size_t> owner_;  // watch -> container
  bool overflowed_ = false, limit_warned_ = false, started_ = false;
};

}  // namespace

Status Watch(Store& store, ContainerState& state, const std::vector<ContainerSpec>& specs,
             const WatchOptions& options) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status::IoError(std::string("inotify: ") + std::strerror(errno));
  Watcher w(store, state, specs, options, fd);
  Status s = w.Run();
  ::close(fd);
  return s;
}

}  // namespace braid::container
