#include "container/watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
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
      : store_(store),
        state_(state),
        specs_(specs),
        options_(options),
        fd_(fd),
        full_(specs.size(), true),
        targets_(specs.size()) {}

  Status Run() {
    bool pending = false;  // events since the last pass
    Clock::time_point first{}, last{};
    auto next_safety = Clock::now() + kSafetyPass;
    for (;;) {
      if (options_.stop && options_.stop()) return Status::OK();
      const auto now = Clock::now();
      const bool due = pending && (now - last >= kQuiet || now - first >= kLongestWait);
      if (due || !started_ || now >= next_safety) {
        if (now >= next_safety) full_.assign(specs_.size(), true);
        started_ = true;
        pending = false;
        for (size_t i = 0; i < specs_.size(); ++i) {
          if (!full_[i] && targets_[i].empty()) continue;
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
      if (Drain()) {
        last = Clock::now();
        if (!pending) first = last;
        pending = true;
      }
    }
  }

 private:
  struct Watched {
    size_t container;
    std::string prefix;  // "" or "a/b/"
  };

  // A pass of container i: a full one at the start, after lost events and
  // every kSafetyPass; else one of the paths the events named.
  Result<bool> PassOf(size_t i) {
    const ContainerSpec& spec = specs_[i];
    if (options_.before_pass) BRAID_RETURN_IF_ERROR(options_.before_pass());
    PassOptions pass = options_.pass;
    pass.on_folder = [&](const std::string& folder) { AddWatch(i, folder); };
    std::vector<std::string> paths(targets_[i].begin(), targets_[i].end());
    const bool full = full_[i];
    full_[i] = false;
    targets_[i].clear();
    Result<PassSummary> r = full ? RunPass(store_, state_, spec, pass)
                                 : RunTargetedPass(store_, state_, spec, std::move(paths), pass);
    if (options_.after_pass) options_.after_pass();
    return !options_.on_pass || options_.on_pass(spec, r);
  }

  void AddWatch(size_t container, const std::string& folder) {
    const std::string path = specs_[container].dir + "/" + folder;
    const int wd = inotify_add_watch(fd_, path.c_str(), kMask);
    if (wd >= 0) {
      owner_[wd] = {container, folder};
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

  // Reads every pending event; notes what it names. True when any did.
  bool Drain() {
    alignas(inotify_event) char buf[64 * 1024];
    bool any = false;
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return any;
      for (ssize_t off = 0; off < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        if (e->mask & IN_Q_OVERFLOW) {  // events were lost: look at everything
          full_.assign(specs_.size(), true);
          any = true;
          continue;
        }
        if (e->mask & IN_IGNORED) {
          owner_.erase(e->wd);
          continue;
        }
        const auto it = owner_.find(e->wd);
        if (it == owner_.end()) continue;
        const Watched& w = it->second;
        if (e->len > 0) {
          std::string path = w.prefix + e->name;  // e->name ends with NULs
          if (e->mask & IN_ISDIR) path += '/';
          targets_[w.container].insert(std::move(path));
        } else if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
          if (w.prefix.empty()) {
            full_[w.container] = true;
          } else {
            targets_[w.container].insert(w.prefix);
          }
        } else {
          continue;  // the folder's own attributes
        }
        any = true;
      }
    }
  }

  Store& store_;
  ContainerState& state_;
  const std::vector<ContainerSpec>& specs_;
  const WatchOptions& options_;
  const int fd_;
  std::vector<bool> full_;
  std::vector<std::set<std::string>> targets_;
  std::unordered_map<int, Watched> owner_;
  bool limit_warned_ = false, started_ = false;
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
