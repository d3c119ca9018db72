// The attachments step of a mirror (Kerko's step 3; DESIGN section 5):
// bring the blob store in line with the attachments the store's live
// records name.
//
// 1. Wanted blobs: those named by records changed since the step's last
//    complete run (its cursor, a change-log seq kept in the store's steps
//    table), or by every live record on a full run (the first one, after
//    `braid clean attachments`, or when asked). A blob that is here with
//    its size is skipped: the blob store verified its SHA-256 and MD5 when
//    it was written, so a blob here is the blob a record names.
// 2. Missing ones are fetched from the remote (GET /api/v1/blobs/SHA256),
//    several at once, into the blob store's partial downloads: a fetch cut
//    short resumes with Range next time, and a complete blob is never
//    fetched again. Their commits are deferred and made durable together
//    at the end (one syncfs; blob_store.h says how a cut-short batch is
//    recovered).
// 3. Orphans are removed: blobs writes stopped naming (the store's
//    blob_dropped) that no live record names any more, checked and removed
//    under the store's write lock so that no attach commits a record naming
//    one meanwhile; on a full run also every other blob no record names,
//    unless it was written in the last kOrphanGrace (an upload about to be
//    attached).
//
// A blob that cannot be fetched (the remote lacks it, or its bytes do not
// match) is reported and the cursor stays, so the next run tries it again;
// an error that concerns the remote as a whole (credentials, unreachable)
// ends the step.

#ifndef BRAID_MIRROR_ATTACHMENTS_STEP_H_
#define BRAID_MIRROR_ATTACHMENTS_STEP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "blob/blob_store.h"
#include "braid/status.h"
#include "braid/store.h"
#include "http/client.h"

namespace braid::mirror {

inline constexpr char kAttachmentsStep[] = "attachments";
inline constexpr std::chrono::minutes kOrphanGrace{10};

// Where blobs come from: GET `url` + "/api/v1/blobs/SHA256" with `headers`.
struct BlobSource {
  std::string name;  // the remote's, for messages
  std::string url;
  http::Headers headers;
  std::string ca_cert;  // https: the CA file to trust; empty: the system's
};

struct AttachmentsProgress {
  uint64_t files_done = 0, files_total = 0;  // blobs to fetch
  uint64_t bytes_done = 0, bytes_total = 0;
  double seconds = 0;
  bool done = false;
};

struct AttachmentsOptions {
  bool full = false;    // compare every blob live records name, and sweep every orphan
  size_t parallel = 4;  // fetches at once
  // Called from the calling thread, at most every 200 ms and at the end.
  std::function<void(const AttachmentsProgress&)> progress;
};

struct AttachmentsSummary {
  bool full = false;
  uint64_t checked = 0;             // blobs compared with the blob store
  uint64_t fetched = 0;             // blobs downloaded
  uint64_t bytes = 0;               // bytes downloaded
  uint64_t resumed = 0;             // downloads that continued a partial one
  uint64_t failed = 0;              // blobs that could not be fetched (errors)
  uint64_t removed = 0;             // orphans removed
  uint64_t cursor = 0;              // the change-log seq dealt with
  std::vector<std::string> errors;  // the first few failures
  double seconds = 0;
};
std::string SummaryJson(const AttachmentsSummary& s);

// Runs the step; records its run in the store (StepRun "attachments").
// `source` may be null: then nothing is fetched (missing blobs are counted
// as failed) and only orphans are removed. Errors: the store's, the blob
// store's, the remote's when it refuses every fetch (Unauthorized,
// Forbidden, Unavailable).
Result<AttachmentsSummary> RunAttachmentsStep(Store& store, blob::BlobStore& blobs,
                                              const BlobSource* source,
                                              const AttachmentsOptions& options);

}  // namespace braid::mirror

#endif  // BRAID_MIRROR_ATTACHMENTS_STEP_H_
