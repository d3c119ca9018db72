// Fetching one attachment's bytes from a remote into the blob store, the
// unit of work of the attachments step (DESIGN section 5, step 3).
//
// The bytes go into the blob's partial download (blob_store.h) as they
// arrive; a fetch cut short (network, kill -9) leaves them there, and the
// next fetch asks only for the rest (`Range: bytes=N-` with `If-Range` on
// the blob's ETag, its SHA-256). A server that answers the whole body
// instead, or another range, makes the fetch start over from byte 0. The
// result is verified against the attachment's SHA-256, MD5 and size before
// it becomes a blob: bytes that do not match are dropped.

#ifndef BRAID_MIRROR_FETCH_H_
#define BRAID_MIRROR_FETCH_H_

#include <cstdint>
#include <functional>
#include <string>

#include "blob/attachments.h"
#include "blob/blob_store.h"
#include "braid/status.h"
#include "http/client.h"

namespace braid::mirror {

struct FetchResult {
  uint64_t received = 0;    // body bytes transferred by this fetch
  uint64_t resumed_at = 0;  // bytes a partial download already had (0: from the start)
  bool present = false;     // the blob was here already: nothing fetched
};

// Fetches `want` from `url` (GET, with `headers`, e.g. credentials) into
// `blobs`. `progress` (may be empty) is called with the bytes of each
// piece received. Errors: the transport's (Unavailable, ...), the remote's
// answer as a Status (NotFound, Forbidden, ...), InvalidArgument when the
// bytes do not match `want` (dropped), Busy (another process fetches the
// same blob), IoError.
Result<FetchResult> FetchBlob(http::Client& client, const std::string& url,
                              const http::Headers& headers, blob::BlobStore& blobs,
                              const blob::Attachment& want, blob::Sync sync,
                              const std::function<void(uint64_t)>& progress = {});

// Fetches several small blobs in one request (POST `url` with
// {"sha256": [...]}, docs/protocol.md "Blobs") into `blobs`, each
// committed as soon as its bytes are complete and verified. `done(i, s)`
// is called for every blob of `want`, in order: OK, NotFound (the remote
// does not give it to us), InvalidArgument (its bytes did not match), or
// the error that cut the answer short. Errors (returned, and then `done`
// was not called for every blob): the whole request failed, as FetchBlob's.
// A remote that does not know the route answers NotFound or
// MethodNotAllowed: fetch the blobs one by one then.
Status FetchBatch(http::Client& client, const std::string& url, const http::Headers& headers,
                  blob::BlobStore& blobs, const std::vector<blob::Attachment>& want,
                  blob::Sync sync, const std::function<void(size_t, const Status&)>& done,
                  const std::function<void(uint64_t)>& progress = {});

}  // namespace braid::mirror

#endif  // BRAID_MIRROR_FETCH_H_
