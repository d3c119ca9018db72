// `braid container checkout`: a container's files written into a folder on
// another instance, from the records replication brought (and their bytes,
// which the attachments step fetched: containers with `--content blobs`),
// and kept in line by later runs.
//
// A run reads the change log of the container's collection after the
// checkout's cursor (from the start on the first run, or when compaction
// passed the cursor). A new or changed file is written to a temp file
// beside its place, synced, given the record's mtime and renamed over it
// (its folder synced); a removed one is unlinked. What was written is kept
// (container/state.h: its hash and the stat right after), so a file changed
// here since is never overwritten or removed: it is listed as a conflict
// and left alone, as is a file there that checkout did not write (unless
// it has the record's bytes, then it is taken as written). Records whose
// bytes are not here yet are pending. The cursor moves only after a run
// with no conflict, pending file or error, so the next run looks at them
// again.
//
// Nothing outside the folder is written: paths come from peers' records
// and are checked (container/path_codec.h), and every folder on the way
// is opened without following symlinks.

#ifndef BRAID_CONTAINER_CHECKOUT_H_
#define BRAID_CONTAINER_CHECKOUT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "blob/blob_store.h"
#include "braid/store.h"
#include "container/state.h"

namespace braid::container {

struct CheckoutSummary {
  std::string container;
  uint64_t written = 0, removed = 0, unchanged = 0, pending = 0, skipped = 0;
  uint64_t bytes_written = 0;
  uint64_t cursor = 0;
  double seconds = 0;
  // (encoded path, why): conflicts, and what failed; the first 100 each.
  std::vector<std::pair<std::string, std::string>> conflicts, errors;
  uint64_t conflict_count = 0, error_count = 0;
};
std::string CheckoutSummaryJson(const CheckoutSummary& s);

// One run of checkout `spec` (a row of `state`). Errors: the folder cannot
// be opened; the store's and the state's.
Result<CheckoutSummary> RunCheckout(Store& store, ContainerState& state,
                                    const blob::BlobStore& blobs, const CheckoutSpec& spec);

}  // namespace braid::container

#endif  // BRAID_CONTAINER_CHECKOUT_H_
