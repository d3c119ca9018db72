// Merging a version received from a peer with the local version of the same
// record (DESIGN section 2, step 5; docs/protocol.md "Merging" is the
// normative text).
//
// Versions are compared by version vector, never by wall-clock time:
//   incoming included in local  -> ignore it;
//   incoming dominates local    -> take it whole;
//   concurrent                  -> the collection's policy computes the
//                                  content M; then the version is chosen so
//                                  that every replica ends with the same one:
//     M equals local and incoming -> the greater version (instance id, counter)
//     M equals local              -> keep the local version
//     M equals incoming           -> take the incoming version
//     otherwise                   -> M is a new local write
//   and in every concurrent case the version vector is the pointwise max.
//
// Policies are deterministic functions of the two versions (never of arrival
// order or the local clock), and each is a join: per field the greater write
// wins, conflicts grow as a set union. That is what makes replicas converge
// whatever the topology and order of syncs.

#ifndef BRAID_STORE_MERGE_H_
#define BRAID_STORE_MERGE_H_

#include <string_view>

#include "braid/record.h"
#include "braid/status.h"
#include "braid/store.h"
#include "store/content.h"

namespace braid {

struct MergeDecision {
  enum class Kind {
    kIgnore,        // incoming adds nothing: local stays as it is
    kTakeIncoming,  // store incoming's version and content, with `vv`
    kKeepLocal,     // keep local's version and content, with `vv`
    kNewVersion,    // store `content` as a new local version with `vv` (+ self),
                    // whose HLC is the greater of the two merged
    kHold,          // skip policy: keep incoming aside, local untouched
  };
  Kind kind = Kind::kIgnore;
  VersionVector vv;
  Content content;        // kNewVersion only
  bool conflict = false;  // something lost and was recorded (or held)
};

// Errors: Corruption when either record's clocks or conflicts do not parse.
Result<MergeDecision> Merge(const Record& local, const Record& incoming, ConflictPolicy policy);

}  // namespace braid

#endif  // BRAID_STORE_MERGE_H_
