// The two ends of one direction of a replication session: the sender
// builds chunks from its store's version streams, the receiver applies them
// (docs/protocol.md, "Replication").

#ifndef BRAID_REPL_STREAM_H_
#define BRAID_REPL_STREAM_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
  // With rules (StreamSender::UseRules): per origin, how far this chunk
  // went in its stream whatever it claims (the push marks), and the lowest
  // write of each origin it left out (the push floors).
  std::vector<std::pair<InstanceId, uint64_t>> scanned_to, left_out;
  size_t records_left_out = 0;
};

class Rules;

// What a dry run (StreamReceiver::DryRun) found of one collection.
struct CollectionPreview {
  uint64_t created = 0, updated = 0, unchanged = 0, held = 0, left_out = 0;
};

// Builds chunks for one receiver. Thread-safe: Next() may run on any thread,
// also concurrently (prefetching), since it only reads the store.
class StreamSender {
 public:
  // Where each origin's stream ends when a session starts. Read before the
  // sender's FSIC: then nothing the FSIC claims lies past an end, and what
  // is written later is left to the next session, which sends it once.
  struct Bounds {
    std::vector<InstanceId> origins;  // instance-id order
    std::vector<uint64_t> ends;
  };
  static Result<Bounds> ReadBounds(Store& store);

  // `receiver_fsic` says where each origin's stream starts; `sender_fsic`
  // (this store's FSIC for the filter, read at session start, after
  // `bounds`) caps what a chunk may claim complete.
  static Result<StreamSender> Create(Store& store, std::vector<std::string> filter,
                                     VersionVector receiver_fsic, VersionVector sender_fsic,
                                     Bounds bounds);
  // The same, reading the bounds now (tests and tools: writes made since
  // `sender_fsic` was read may be sent twice).
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

  // The current versions of the named records that exist and lie in the
  // filter, as a chunk that claims nothing (ParseNamesRequest's names).
  Result<EncodedChunk> NamedJson(
      const std::vector<std::pair<std::string, std::string>>& names) const;

  // Pushes under a remote's rules (rules.h): each record is renamed as the
  // remote knows it, or left out; what a chunk claims complete then stays
  // below the first write of each origin left out, in this session and
  // (`floors`, the remote's push floors) in those before. Chunks must then
  // be built in stream order (each from the last one's `next`).
  void UseRules(const Rules* rules, VersionVector floors);

 private:
  StreamSender(Store& store, std::vector<std::string> filter, VersionVector receiver_fsic,
               VersionVector sender_fsic, std::vector<InstanceId> origins,
               std::vector<uint64_t> ends)
      : store_(&store),
        filter_(std::move(filter)),
        receiver_fsic_(std::move(receiver_fsic)),
        sender_fsic_(std::move(sender_fsic)),
        origins_(std::move(origins)),
        ends_(std::move(ends)) {}

  // What the rules left out so far: per origin, the claim cap.
  struct Omissions {
    std::mutex mu;
    std::map<InstanceId, uint64_t> caps;
  };
  const Rules* rules_ = nullptr;
  std::shared_ptr<Omissions> omissions_;

  Store* store_;
  std::vector<std::string> filter_;
  VersionVector receiver_fsic_;
  VersionVector sender_fsic_;
  std::vector<InstanceId> origins_;  // the stream order: instance-id order
  // Per origin, its stream's last position at the session start: entries
  // written since are the next session's (sending them now would send them
  // twice, as nothing claims them complete).
  std::vector<uint64_t> ends_;
};

struct ApplyCounts {
  uint64_t received = 0, applied = 0, merged = 0, kept = 0, ignored = 0, held = 0, conflicts = 0;
  uint64_t left_out = 0;  // by a remote's rules (StreamReceiver::UseRules)
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

  // A remote's conflict policy for `collection` instead of the store's
  // (RemoteRules::conflicts).
  void OverridePolicy(const std::string& collection, ConflictPolicy policy) {
    policies_[collection] = policy;
  }
  // Refuse chunks of more than `n` records (the session's chunk size).
  void LimitRecords(size_t n) { max_records_ = n; }
  // Refuses (Forbidden) a chunk with a record outside `writable`, which
  // `holder` (for the message) may write; checked before the filter.
  void LimitWrites(auth::PartitionSet writable, std::string holder) {
    writable_ = std::move(writable);
    writer_ = std::move(holder);
  }

  // Pulls under remote `remote`'s rules (rules.h): each record is renamed
  // as this instance knows it, and stored or left out as the rules say. A
  // record of a skipped (or not included) collection is stored when it is
  // here already, or when a record taken in this session references it
  // (its chunk, or the wanted() names fetched at the end). Each chunk also
  // moves the remote's pull marks to its claims, and its pull floors to the
  // writes left out, which the store's FSIC then stays below; `start` is
  // the store's FSIC when the session began.
  void UseRules(const Rules* rules, std::string remote, VersionVector start) {
    rules_ = rules;
    remote_ = std::move(remote);
    start_ = std::move(start);
  }
  // Applies nothing: each chunk's transaction is rolled back instead of
  // committed (FSIC and marks stay), and what it would have done is
  // counted per collection into `preview` (SENAITE's fetch).
  void DryRun(std::map<std::string, CollectionPreview>* preview) { preview_ = preview; }

  // Records taken reference these (by their names here), which no record
  // of the session brought: the dependencies to fetch.
  const std::set<std::pair<std::string, std::string>>& wanted() const { return wanted_; }
  // Forgets wanted names (fetched, or found missing on the remote).
  void ForgetWanted(const std::pair<std::string, std::string>& name) { wanted_.erase(name); }
  void ClearWanted() { wanted_.clear(); }

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
  Status ApplyRecord(WriteTransaction& txn, const Record& r, ApplyCounts* counts,
                     BodyForm form = BodyForm::kChecked);
  Status AdvanceAndCommit(WriteTransaction& txn,
                          const std::vector<std::pair<InstanceId, uint64_t>>& complete_to);
  // With rules: renames `r` and applies it, passes it by for the chunk's
  // end (`passed`), or leaves it out (into `floors`).
  Status ApplyShaped(WriteTransaction& txn, const Record& r, ApplyCounts* counts,
                     std::vector<Record>* passed, std::map<InstanceId, uint64_t>* floors);
  // At a chunk's end: applies the passed records the chunk's records
  // referenced, leaves out the rest.
  Status SettlePassed(WriteTransaction& txn, std::vector<Record>* passed, ApplyCounts* counts,
                      std::map<InstanceId, uint64_t>* floors);
  void LeaveOut(const Record& r, ApplyCounts* counts, std::map<InstanceId, uint64_t>* floors);

  Store* store_;
  std::vector<std::string> filter_;
  VersionVector sender_fsic_;
  std::map<std::string, ConflictPolicy> policies_;
  std::string peer_name_;
  size_t max_records_ = kMaxChunkSize;
  auth::PartitionSet writable_ = auth::PartitionSet::All();
  std::string writer_;
  std::map<std::string, CollectionPreview>* preview_ = nullptr;
  const Rules* rules_ = nullptr;
  std::string remote_;
  VersionVector start_;
  std::set<std::pair<std::string, std::string>> wanted_;
  // The floors the chunk being applied found (AdvanceAndCommit keeps them).
  std::map<InstanceId, uint64_t> chunk_floors_;
  // Records are looked up in batches (WriteTransaction::Prefetch) until a
  // batch of at least kAssumeNewAfter finds none there; from then on the
  // session takes them for new, until a chunk finds one that is not (that
  // chunk is applied again with lookups).
  static constexpr size_t kAssumeNewAfter = 64;
  bool assume_new_ = false;
  // The last chunk decompressed: its memory is reused by the next one.
  std::string text_;
  std::unique_ptr<ReadingThread> reading_;
  ReadHooks read_hooks_;
};

// True when `partition` is inside `filter` (empty: everything).
bool InFilter(const std::vector<std::string>& filter, std::string_view partition);

}  // namespace braid::repl

#endif  // BRAID_REPL_STREAM_H_
