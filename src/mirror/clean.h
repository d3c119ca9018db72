// `braid clean`: what a mirror step made, removed so that its next run
// starts over (Kerko's clean commands; DESIGN section 5). The cache is the
// store's records (Store::ClearRecords), the attachments the blob store.
//
// Both may hold the only copy of writes made here: a record written or
// attached on this instance that no remote has received yet. Before either
// is removed, FindUnsentWrites checks every write of this instance still in
// a record (its version stream's current entries) against what the
// remotes hold (their FSIC, from a handshake each): a write is safe when a
// remote whose filter covers its partition holds this instance's writes up
// to it. Stale entries (superseded by a later version, which includes
// them) need no check.

#ifndef BRAID_MIRROR_CLEAN_H_
#define BRAID_MIRROR_CLEAN_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "braid/catalog.h"
#include "braid/status.h"
#include "braid/store.h"
#include "braid/version_vector.h"

namespace braid::mirror {

struct UnsentWrites {
  uint64_t count = 0;                 // records holding a write made here that no remote has
  std::vector<std::string> examples;  // the first few, "collection/id"
};

// `remotes`: each remote with what it holds (repl::RemoteFsic). Cost: one
// pass over this instance's own version stream.
Result<UnsentWrites> FindUnsentWrites(Store& store,
                                      const std::vector<std::pair<Remote, VersionVector>>& remotes);

}  // namespace braid::mirror

#endif  // BRAID_MIRROR_CLEAN_H_
