#include "container/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace braid::container {
namespace {

bool Matches(const std::string& pattern, const std::string& name, const std::string& path) {
  if (pattern.find('/') != std::string::npos) {
    return fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0;
  }
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool AnyMatches(const std::vector<std::string>& patterns, const std::string& name,
                const std::string& path) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return Matches(p, name, path); });
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Entry {
  std::string key;  // the name, with '/' after a folder's
  bool folder = false;
};

class Walker {
 public:
  Walker(const WalkOptions& options, Visitor& visitor) : options_(options), visitor_(visitor) {}

  // Walks the open folder `fd` (closed here) at `prefix` ("" or "a/b/").
  Status Folder(int fd, const std::string& prefix) {
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      const int err = errno;
      ::close(fd);
      return visitor_.Failed(prefix, true, std::strerror(err));
    }
    std::vector<Entry> entries;
    int err = 0;
    for (;;) {
      errno = 0;
      const dirent* d = readdir(dir);
      if (d == nullptr) {
        err = errno;
        break;
      }
      const std::string name = d->d_name;
      if (name == "." || name == "..") continue;
      unsigned char type = d->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (fstatat(dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
      }
      if (type == DT_DIR) {
        entries.push_back({name + "/", true});
      } else if (type == DT_REG) {
        entries.push_back({name, false});
      }  // symlinks, devices, sockets, fifos: passed over
    }
    if (err != 0) {
      closedir(dir);
      return visitor_.Failed(prefix, true, std::strerror(err));
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.key < b.key; });
    Status s = visitor_.Folder(prefix);
    for (const Entry& e : entries) {
      if (!s.ok()) break;
      s = e.folder ? Subfolder(dirfd(dir), prefix, e.key) : File(dirfd(dir), prefix, e.key);
    }
    closedir(dir);
    return s;
  }

 private:
  Status Subfolder(int parent, const std::string& prefix, const std::string& key) {
    const std::string name = key.substr(0, key.size() - 1);
    if (AnyMatches(options_.excludes, name, prefix + name)) return Status::OK();
    const int fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) return Status::OK();  // gone
      return visitor_.Failed(prefix + key, true, std::strerror(errno));
    }
    return Folder(fd, prefix + key);
  }

  Status File(int parent, const std::string& prefix, const std::string& name) {
    const std::string& suffix = options_.sidecar_suffix;
    if (!suffix.empty() && EndsWith(name, suffix)) return Status::OK();
    const std::string path = prefix + name;
    if (AnyMatches(options_.excludes, name, path)) return Status::OK();
    if (!options_.globs.empty() && !AnyMatches(options_.globs, name, path)) return Status::OK();
    struct stat st {};
    if (fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return Status::OK();  // removed since the listing
      return visitor_.Failed(path, false, std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return Status::OK();
    WalkEntry entry{path, StatOf(st), std::nullopt};
    if (!suffix.empty()) {
      struct stat side {};
      if (fstatat(parent, (name + suffix).c_str(), &side, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(side.st_mode)) {
        entry.sidecar = StatOf(side);
      }
    }
    return visitor_.File(std::move(entry));
  }

  const WalkOptions& options_;
  Visitor& visitor_;
};

}  // namespace

FileStat StatOf(const struct stat& st) {
  auto nanos = [](const timespec& t) {
    return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
  };
  return {static_cast<uint64_t>(st.st_size), nanos(st.st_mtim), static_cast<uint64_t>(st.st_ino),
          nanos(st.st_ctim)};
}

int OpenBeneath(int root, const std::string& path, int flags) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | static_cast<uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  const int fd = static_cast<int>(syscall(SYS_openat2, root, path.c_str(), &how, sizeof how));
  if (fd >= 0 || errno != ENOSYS) return fd;
  return openat(root, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | flags);
}

Status Walk(const std::string& root, const WalkOptions& options, Visitor& visitor) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string what = "cannot open the folder " + root + ": " + std::strerror(err);
    return err == ENOENT ? Status::NotFound(what) : Status::IoError(what);
  }
  Walker walker(options, visitor);
  return walker.Folder(fd, "");
}

bool Selected(const WalkOptions& options, const std::string& path) {
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    const std::string name = path.substr(start, slash == std::string::npos ? slash : slash - start);
    const std::string sofar = path.substr(0, slash);
    if (AnyMatches(options.excludes, name, sofar)) return false;
    if (slash == std::string::npos) {
      const std::string& suffix = options.sidecar_suffix;
      if (!suffix.empty() && EndsWith(name, suffix)) return false;
      return options.globs.empty() || AnyMatches(options.globs, name, path);
    }
    start = slash + 1;
  }
}

Status WalkBelow(int root, const std::string& prefix, const WalkOptions& options,
                 Visitor& visitor) {
  const std::string folder = prefix.substr(0, prefix.size() - 1);
  // Excluded on its way: a walk would not go there.
  size_t start = 0;
  for (;;) {
    const size_t slash = folder.find('/', start);
    const std::string name =
        folder.substr(start, slash == std::string::npos ? slash : slash - start);
    if (AnyMatches(options.excludes, name, folder.substr(0, slash))) return Status::OK();
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  const int fd = OpenBeneath(root, folder, O_DIRECTORY);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV) {
      return Status::OK();  // gone, or not a folder: nothing below it
    }
    return visitor.Failed(prefix, true, std::strerror(errno));
  }
  Walker walker(options, visitor);
  return walker.Folder(fd, prefix);
}

Status ValidatePattern(const std::string& pattern) {
  if (pattern.empty() || pattern.size() > 1024 || pattern.find('\0') != std::string::npos) {
    return Status::InvalidArgument("pattern \"" + pattern +
                                   "\": empty, or longer than 1,024 bytes");
  }
  if (pattern.front() == '/') {
    return Status::InvalidArgument("pattern \"" + pattern +
                                   "\" is absolute; patterns are relative to the folder");
  }
  return Status::OK();
}

}  // namespace braid::container
