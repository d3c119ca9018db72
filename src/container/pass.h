// A pass over a container's folder (EOxServer's eoxs_synchronize, DESIGN
// section 7): the walk (container/walk.h) merged with the state of the
// last pass (container/state.h), both in path order. A file whose stat and
// sidecar stat are as recorded is unchanged and not opened; a new or
// changed one is read once (SHA-256 and MD5) and its record written; a
// file no longer there gets a tombstone. The container's summary record
// follows when anything changed.
//
// Errors never look like removals: a folder or file that cannot be read
// is named in the summary and its records stay as they were; a file whose
// size, mtime or ctime change while it is read is left for the next pass.
// Nothing outside the folder is read (no symlink is followed, files are
// opened beneath the folder).
//
// Records are written in batches (PassOptions), each committed before the
// state's rows of the batch: a pass killed midway leaves records that the
// next pass completes and never rewrites unchanged (an identical body is
// no new version).

#ifndef BRAID_CONTAINER_PASS_H_
#define BRAID_CONTAINER_PASS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "blob/blob_store.h"
#include "braid/store.h"
#include "container/state.h"

namespace braid::container {

inline constexpr size_t kMaxSidecarBytes = 1 << 20;

struct PassProgress {
  uint64_t files_seen = 0, files_read = 0, bytes_read = 0;
  double seconds = 0;
};

struct PassOptions {
  size_t batch_files = 1000;            // records per store transaction at most
  uint64_t batch_bytes = 256ull << 20;  // bytes read per transaction at most
  // Called at most every 200 ms from the pass's thread.
  std::function<void(const PassProgress&)> progress;
  // Called for each folder the walk enters (relative: "" or "a/b/"), from
  // the pass's thread; the watcher adds its watches so. Null: none.
  std::function<void(const std::string& folder)> on_folder;
  // Where the files' bytes go for a container with content_blobs (they are
  // durable before the records that name them commit), and the largest
  // file it takes (a larger one fails, named).
  blob::BlobStore* blobs = nullptr;
  uint64_t max_blob_bytes = uint64_t{4} << 30;
};

struct PassSummary {
  std::string container;
  uint64_t added = 0, updated = 0, removed = 0, unchanged = 0, failed = 0;
  uint64_t bytes_read = 0;
  bool summary_written = false;
  double seconds = 0;
  // What could not be read: (encoded path, why); the first kMaxErrors.
  std::vector<std::pair<std::string, std::string>> errors;
  static constexpr size_t kMaxErrors = 100;
};
std::string SummaryJson(const PassSummary& s);

// Runs one pass of `spec` (a container of `state`). A pass with failures
// still returns its summary (failed > 0). Errors: the folder cannot be
// opened (NotFound, IoError: nothing written); the store's and the state's.
Result<PassSummary> RunPass(Store& store, ContainerState& state, const ContainerSpec& spec,
                            const PassOptions& options);

// A pass over `paths` only (relative: files, and folders with a trailing
// '/' for everything below them), for the watcher, which knows what
// changed: each file is looked at as a full pass would (gone: a
// tombstone), each folder walked. Over kMaxTargets paths: a full pass.
inline constexpr size_t kMaxTargets = 10'000;
Result<PassSummary> RunTargetedPass(Store& store, ContainerState& state, const ContainerSpec& spec,
                                    std::vector<std::string> paths, const PassOptions& options);

// Parses a metadata sidecar: a JSON object, or lines of `key = value`
// (blank lines and lines starting with '#' skipped), into a minified JSON
// object; fills `extent` from begin_time, end_time and footprint ([west,
// south, east, north] numbers, or "w,s,e,n"). Errors: InvalidArgument.
Result<std::string> ParseMetadata(std::string_view text, Extent* extent);

}  // namespace braid::container

#endif  // BRAID_CONTAINER_PASS_H_
