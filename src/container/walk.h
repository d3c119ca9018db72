// The walk of a container's folder: every regular file below it that the
// container's globs select, depth first, in byte order of the relative
// paths (a folder's entries are sorted with "NAME/" as the key of a
// subfolder, which makes depth-first order the byte order of whole paths:
// the order in which a container's state lists its files, so a pass is
// one merge of two sorted streams with no map of the tree in memory).
//
// Symlinks are never followed (they are passed over), and nothing outside
// the folder is opened: each folder is opened relative to its parent with
// O_NOFOLLOW. A folder or file that cannot be read is reported where it
// falls in the order (Visitor::Failed) and the walk goes on.

#ifndef BRAID_CONTAINER_WALK_H_
#define BRAID_CONTAINER_WALK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "braid/status.h"

namespace braid::container {

// What tells that a file may have changed, without reading it.
struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStat&) const = default;
};

struct WalkOptions {
  // Patterns (fnmatch) a file must match one of; none: every file. A
  // pattern with a '/' is matched against the relative path, else against
  // the file's name.
  std::vector<std::string> globs;
  // Files and folders matching one of these are passed over (folders with
  // everything below them).
  std::vector<std::string> excludes;
  // The metadata sidecar of FILE is FILE + suffix ("" : none). Files whose
  // names end with the suffix are sidecars, never files of their own.
  std::string sidecar_suffix;
};

struct WalkEntry {
  std::string path;  // relative, bytes as on disk
  FileStat stat;
  std::optional<FileStat> sidecar;
};

class Visitor {
 public:
  virtual ~Visitor() = default;
  virtual Status File(WalkEntry entry) = 0;
  // `path` could not be read: a file, or a folder ("a/b/", with its slash:
  // nothing below it was seen). The walk goes on after it.
  virtual Status Failed(const std::string& path, bool folder, const std::string& why) = 0;
  // A folder the walk entered ("" for the root, else "a/b/"), before its
  // files. Default: nothing.
  virtual Status Folder(const std::string& path) {
    (void)path;
    return Status::OK();
  }
};

// Errors: the root cannot be opened (IoError, NotFound): nothing was
// visited; or the first error a Visitor returned.
Status Walk(const std::string& root, const WalkOptions& options, Visitor& visitor);

// The walk of folder `prefix` ("a/b/") below the open folder `root`, as
// Walk would see it (each step opened without following a symlink; a
// folder an exclude covers, or one not there, is not walked).
Status WalkBelow(int root, const std::string& prefix, const WalkOptions& options, Visitor& visitor);

// Whether the file at `path` is one a walk would give: no folder on its
// way nor itself excluded, not a sidecar, matched by the globs.
bool Selected(const WalkOptions& options, const std::string& path);

// The stat fields a container compares.
FileStat StatOf(const struct stat& st);

// Opens `path` below the folder `root` (O_RDONLY | `flags`): no symlink
// anywhere on the way, nothing outside it (openat2 RESOLVE_BENEATH; on
// kernels without it, O_NOFOLLOW on the last component: the walks that
// name paths follow no symlink above it). Returns the fd, or -1 and errno.
int OpenBeneath(int root, const std::string& path, int flags = 0);

// Checks patterns as the CLI takes them. Errors: InvalidArgument.
Status ValidatePattern(const std::string& pattern);

}  // namespace braid::container

#endif  // BRAID_CONTAINER_WALK_H_
