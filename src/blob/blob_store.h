// The content-addressed store of attachment bodies (DESIGN section 6).
//
// A blob is named by the SHA-256 of its bytes; the MD5 is computed beside it
// for Kerko-style comparisons with an upstream. Layout, under DIR/blobs:
//   ab/cdef...      a blob: 2 hex digits of its SHA-256, then the other 62
//   tmp/N.tmp       a body being written; flock()ed by its writer
//   partial/SHA256  a download that can resume (HTTP Range) after a failure
//   unsynced        present while a batch of deferred commits is not yet on
//                   stable storage (BeginBatch / EndBatch)
//
// Bodies are streamed: a Writer hashes what it is given as it writes it to a
// temp file, and Commit() verifies the hashes and size against what the
// body was announced as before renaming it into place. Nothing is held
// whole in memory, and a blob never exists under a name its bytes do not
// hash to, unless a power cut hits a deferred batch (below).
//
// Crash story:
//   - A writer that dies leaves tmp/N.tmp; Open() removes temp files no
//     live writer holds (they are never referenced: a record names a blob
//     only after its commit).
//   - A durable Commit() fsyncs the file, renames it, and fsyncs the
//     directory (and the blobs directory when the 2-digit one is new) before
//     it returns: a record written after it never names a missing blob.
//   - Deferred commits (a sync step storing thousands of files) skip the
//     per-file fsyncs; BeginBatch() first writes `unsynced` (durably), and
//     EndBatch() flushes the whole file system (syncfs) and removes it. A
//     store opened with `unsynced` present had a crash inside a batch:
//     NeedsVerify() says so, and VerifyUnsynced() re-hashes every blob
//     modified since the batch began and removes the ones that do not match.
//   - A partial download is kept across crashes; resuming re-hashes its
//     bytes first, and a hash mismatch at the end removes it.
//
// Thread-safety: a BlobStore may be used from many threads and processes at
// once; a Writer or Reader belongs to one thread at a time.

#ifndef BRAID_BLOB_BLOB_STORE_H_
#define BRAID_BLOB_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "braid/status.h"
#include "store/attachment_list.h"

namespace braid::blob {

using ::braid::IsMd5Hex;  // store/attachment_list.h
using ::braid::IsSha256Hex;

struct BlobInfo {
  std::string sha256;  // lowercase hex
  std::string md5;     // lowercase hex
  uint64_t size = 0;
};

// What a body was announced as; empty or absent members are not checked.
struct Expected {
  std::string sha256;
  std::string md5;
  std::optional<uint64_t> size;
};

enum class Sync {
  kDurable,   // on stable storage when Commit() returns
  kDeferred,  // inside BeginBatch()/EndBatch(): EndBatch() makes it durable
};

class Writer {
 public:
  virtual ~Writer() = default;
  // Bytes written so far (for a resumed download, with what it had).
  virtual uint64_t size() const = 0;
  // Errors: PayloadTooLarge past the writer's limit; IoError (a full disk
  // says so). After an error the writer is spent: destroy it, which removes
  // its temp file (a partial download stays, to be resumed).
  virtual Status Append(std::string_view bytes) = 0;
  // Checks the hashes and size against `expected`, then puts the blob in
  // place (an equal blob already there is kept). Errors: InvalidArgument on
  // a mismatch (the temp file or partial download is removed), IoError.
  virtual Result<BlobInfo> Commit(const Expected& expected, Sync sync = Sync::kDurable) = 0;
};

// Reads a byte range of a blob.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual uint64_t size() const = 0;  // bytes of the range
  // Up to `n` next bytes of the range; 0 at its end. Errors: IoError.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

class BlobStore {
 public:
  // Opens (creating what is missing) the blob store in `dir` (DIR/blobs)
  // and removes temp files of writers that are gone. Errors: IoError.
  static Result<std::unique_ptr<BlobStore>> Open(const std::string& dir);
  ~BlobStore();

  const std::string& dir() const { return dir_; }
  // Where blob `sha256` lives (whether or not it does).
  std::string PathOf(std::string_view sha256) const;

  // A writer of a new blob of at most `max_bytes`. Without `with_md5` it
  // computes no MD5 (as Resume; for bytes fetched by their SHA-256).
  // Errors: IoError.
  Result<std::unique_ptr<Writer>> Create(uint64_t max_bytes, bool with_md5 = true);
  // A writer of blob `sha256` that keeps what it received when it fails, so
  // a later Resume continues where it stopped (size() says from where).
  // Its bytes are checked against the name and the size; it computes no
  // MD5 (BlobInfo::md5 is empty, an expected MD5 is not checked): the bytes
  // a SHA-256 names have the MD5 computed where they entered braid, which
  // the record that names them carries.
  // Errors: InvalidArgument (not a SHA-256), Busy (another process is
  // downloading it), IoError.
  Result<std::unique_ptr<Writer>> Resume(std::string_view sha256, uint64_t max_bytes);
  // Forgets what a partial download of `sha256` received (absent is fine),
  // so the next Resume starts from byte 0. Errors: Busy (a writer has it),
  // IoError.
  Status DropPartial(std::string_view sha256);
  // The size of blob `sha256`, nullopt when it is not here.
  Result<std::optional<uint64_t>> SizeOf(std::string_view sha256) const;
  // Bytes [offset, offset + length) of blob `sha256`. Errors: NotFound,
  // InvalidArgument (a range past its end), IoError.
  Result<std::unique_ptr<Reader>> Read(std::string_view sha256, uint64_t offset,
                                       uint64_t length) const;
  // The blob's hashes, computed from its bytes. Errors: NotFound, IoError.
  Result<BlobInfo> Hash(std::string_view sha256) const;
  // Removes blob `sha256`; absent is fine. Errors: IoError.
  Status Remove(std::string_view sha256);
  // Calls `fn` with every blob (in no particular order) until it fails.
  Status ForEach(const std::function<Status(std::string_view sha256, uint64_t size)>& fn) const;
  // Removes every blob, partial download and abandoned temp file.
  Status Clear();

  // Deferred commits (Sync::kDeferred) go between these. Errors: IoError.
  Status BeginBatch();
  Status EndBatch();
  // True when a batch was cut short by a crash (see above).
  bool NeedsVerify() const;
  // Re-hashes blobs changed since the cut-short batch began, removes those
  // that do not match their name, and ends the batch. Returns how many
  // were removed.
  Result<uint64_t> VerifyUnsynced();

 private:
  explicit BlobStore(std::string dir);
  Status RemoveAbandonedTemps();

  const std::string dir_;
  int dir_fd_ = -1;
};

}  // namespace braid::blob

#endif  // BRAID_BLOB_BLOB_STORE_H_
