// The two ends of one direction of a replication session: the sender
// builds chunks from its store's version streams, the receiver applies them
// (docs/protocol.md, "Replication").

#ifndef BRAID_REPL_STREAM_H_
#define BRAID_REPL_STREAM_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/cert.h"
#include "base/compress.h"
#include "braid/store.h"
#include "repl/protocol.h"

namespace braid::repl {

// A chunk as it goes on the wire (ChunkJson's text), with what its sender
// needs to know of it.
struct EncodedChunk {
  std::string json;
  size_t records = 0;
  bool claims = false;           // complete_to is not empty
  std::optional<Position> next;  // absent: the stream is done
};

// Builds chunks for one receiver. Thread-safe: Next() may run on any thread,
// also concurrently (prefetching), since it only reads the store.
class StreamSender {
 public:
  // `receiver_fsic` says where each origin's stream starts; `sender_fsic`
  // (this store's FSIC for the filter, read at session start) caps what a
  // chunk may claim complete.
  static Result<StreamSender> Create(Store& store, std::vector<std::string> filter,
                                     VersionVector receiver_fsic, VersionVector sender_fsic);

  // The chunk after `after` (nullopt: the start of the stream): at most
  // `chunk_size` records, scanning at most a bounded number of entries,
  // written as it goes on the wire; records are copied from the store's
  // rows into it, never built as Records. Errors: InvalidArgument for a
  // position this stream never produced.
  Result<EncodedChunk> NextJson(const std::optional<Position>& after, size_t chunk_size) const;
  // The same chunk, read back (ParseChunk): for tests and tools.
  Result<Chunk> Next(const std::optional<Position>& after, size_t chunk_size) const;

  // Entries the whole stream would scan: the pending count peers show.
  Result<uint64_t> Pending() const;

 private:
  StreamSender(Store& store, std::vector<std::string> filter, VersionVector receiver_fsic,
               VersionVector sender_fsic, std::vector<InstanceId> origins)
      : store_(&store),
        filter_(std::move(filter)),
        receiver_fsic_(std::move(receiver_fsic)),
        sender_fsic_(std::move(sender_fsic)),
        origins_(std::move(origins)) {}

  Store* store_;
  std::vector<std::string> filter_;
  VersionVector receiver_fsic_;
  VersionVector sender_fsic_;
  std::vector<InstanceId> origins_;  // the stream order: instance-id order
};

struct ApplyCounts {
  uint64_t received = 0, applied = 0, merged = 0, kept = 0, ignored = 0, held = 0, conflicts = 0;
  void Add(const ApplyCounts& o);
};

// Applies chunks from one sender. Not thread-safe.
class StreamReceiver {
 public:
  // Loads the collection policies. `two_way`: refuse when any collection
  // has a one-way policy. Errors: Conflict (one-way policy on a two-way
  // session), store errors.
  static Result<StreamReceiver> Create(Store& store, std::vector<std::string> filter,
                                       VersionVector sender_fsic, bool two_way,
                                       std::string peer_name);

  // What ApplyText did, and where the stream goes on.
  struct Applied {
    ApplyCounts counts;
    std::optional<Position> next;
    uint64_t pending = 0;
  };

  // Applies a chunk as received: `body`, compressed with `codec`, at most
  // `max_text_bytes` once decompressed. Validates every record and applies
  // them and the FSIC advance in one transaction: all of the chunk or
  // nothing. A second thread reads the records (ChunkReader) while this
  // one applies those already read, and this one reads the next batch
  // itself when that thread has not. Errors: InvalidArgument (malformed chunk
  // or record, record outside the filter, more records than the session's
  // chunk size, completeness claimed beyond the sender's FSIC, bad
  // compression), PayloadTooLarge, storage errors.
  Result<Applied> ApplyText(std::string_view body, Codec codec, size_t max_text_bytes);

  // Refuse chunks of more than `n` records (the session's chunk size).
  void LimitRecords(size_t n) { max_records_ = n; }
  // Refuses (Forbidden) a chunk with a record outside `writable`, which
  // `holder` (for the message) may write; checked before the filter.
  void LimitWrites(auth::PartitionSet writable, std::string holder) {
    writable_ = std::move(writable);
    writer_ = std::move(holder);
  }

  // Tests: `before_record` runs on the reading thread before each record
  // it reads, with the record's index in its batch (to hold it off a core
  // at chosen points); `before_takeover` on the applier when no batch is
  // ready, before it reads one itself; `taken_over` after it started to.
  struct ReadHooks {
    std::function<void(size_t)> before_record;
    std::function<void()> before_takeover;
    std::function<void()> taken_over;
  };
  void SetReadHooksForTesting(ReadHooks hooks) { read_hooks_ = std::move(hooks); }

  StreamReceiver(StreamReceiver&&) noexcept;
  ~StreamReceiver();

 private:
  class BatchReader;
  // A chunk's reading thread and what it reads into (stream.cc). Joined
  // when the next chunk comes, or with the receiver.
  struct ReadingThread {
    std::unique_ptr<BatchReader> batches;
    std::jthread thread;  // declared last: joined before `batches` goes
    ~ReadingThread();
  };

  StreamReceiver(Store& store, std::vector<std::string> filter, VersionVector sender_fsic,
                 std::map<std::string, ConflictPolicy> policies, std::string peer_name)
      : store_(&store),
        filter_(std::move(filter)),
        sender_fsic_(std::move(sender_fsic)),
        policies_(std::move(policies)),
        peer_name_(std::move(peer_name)) {}

  // The checks made of each record and of a chunk's claims.
  Status CheckRecord(const Record& r, size_t index) const;
  Status CheckClaims(const std::vector<std::pair<InstanceId, uint64_t>>& complete_to) const;
  // Applies one record, read by ReadWireRecord, inside `txn`, counting
  // what happened.
  Status ApplyRecord(WriteTransaction& txn, const Record& r, ApplyCounts* counts);
  Status AdvanceAndCommit(WriteTransaction& txn,
                          const std::vector<std::pair<InstanceId, uint64_t>>& complete_to);

  Store* store_;
  std::vector<std::string> filter_;
  VersionVector sender_fsic_;
  std::map<std::string, ConflictPolicy> policies_;
  std::string peer_name_;
  size_t max_records_ = kMaxChunkSize;
  auth::PartitionSet writable_ = auth::PartitionSet::All();
  std::string writer_;
  // The last chunk decompressed: its memory is reused by the next one.
  std::string text_;
  std::unique_ptr<ReadingThread> reading_;
  ReadHooks read_hooks_;
};

// True when `partition` is inside `filter` (empty: everything).
bool InFilter(const std::vector<std::string>& filter, std::string_view partition);

}  // namespace braid::repl

#endif  // BRAID_REPL_STREAM_H_
