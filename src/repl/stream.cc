#include "repl/stream.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <thread>

#include "base/mutex.h"
#include "base/thread_priority.h"
#include "base/validate.h"

namespace braid::repl {
namespace {

// Entries one chunk may scan, as a multiple of its size: bounds the work of
// a request when most entries are filtered out or sent in another stream.
constexpr size_t kScanFactor = 20;

// Wire bytes of records after which a chunk stops, whatever its record
// count: with the default chunk size of 10,000 and bodies of up to
// store.max_record_bytes, counts alone would let one chunk reach gigabytes
// in memory on both sides. A chunk ends after the record that crosses it.
constexpr size_t kChunkBytes = 8 * 1024 * 1024;

std::string FilterText(const std::vector<std::string>& filter) {
  std::string s = "[";
  for (size_t i = 0; i < filter.size(); ++i) s += (i ? ", " : "") + filter[i];
  return s + "]";
}

// One record picked for a chunk: its name and its wire text.
struct Pick {
  std::string_view collection, id, json;
};

// Puts records in name order, so the receiver's inserts walk its
// (collection, id) index in order instead of landing all over it. Stable: a
// record sent twice keeps its versions in stream order. Sorts small keys
// (the name's first bytes, inline): comparing the names themselves chases
// a pointer per id and cost more than the rest of building a chunk.
void SortByName(std::vector<Pick>* picks) {
  struct Key {
    uint64_t hi, lo;  // collection, NUL, id: the first 16 bytes, big-endian, zero-padded
    uint32_t index;
  };
  auto big_endian = [](const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
    return v;
  };
  std::vector<Key> keys(picks->size());
  for (uint32_t i = 0; i < keys.size(); ++i) {
    const Pick& r = (*picks)[i];
    unsigned char prefix[16] = {};
    const size_t c = std::min(r.collection.size(), sizeof prefix);
    std::memcpy(prefix, r.collection.data(), c);
    if (c + 1 < sizeof prefix) {
      std::memcpy(prefix + c + 1, r.id.data(), std::min(r.id.size(), sizeof prefix - c - 1));
    }
    keys[i] = {big_endian(prefix), big_endian(prefix + 8), i};
  }
  const std::vector<Pick>& r = *picks;
  std::sort(keys.begin(), keys.end(), [&r](const Key& a, const Key& b) {
    if (a.hi != b.hi) return a.hi < b.hi;
    if (a.lo != b.lo) return a.lo < b.lo;
    // Names that share the prefix (or a prefix cut inside the collection).
    const Pick& x = r[a.index];
    const Pick& y = r[b.index];
    if (const int c = x.collection.compare(y.collection); c != 0) return c < 0;
    if (const int c = x.id.compare(y.id); c != 0) return c < 0;
    return a.index < b.index;
  });
  std::vector<Pick> sorted;
  sorted.reserve(picks->size());
  for (const Key& k : keys) sorted.push_back((*picks)[k.index]);
  picks->swap(sorted);
}

}  // namespace

bool InFilter(const std::vector<std::string>& filter, std::string_view partition) {
  if (filter.empty()) return true;
  for (const auto& p : filter) {
    if (PartitionCovers(p, partition)) return true;
  }
  return false;
}

Result<StreamSender> StreamSender::Create(Store& store, std::vector<std::string> filter,
                                          VersionVector receiver_fsic, VersionVector sender_fsic) {
  BRAID_ASSIGN_OR_RETURN(std::vector<InstanceId> origins, store.KnownInstances());
  return StreamSender(store, std::move(filter), std::move(receiver_fsic), std::move(sender_fsic),
                      std::move(origins));
}

Result<uint64_t> StreamSender::Pending() const {
  uint64_t total = 0;
  for (const auto& origin : origins_) {
    BRAID_ASSIGN_OR_RETURN(const uint64_t n,
                           store_->CountVersions(origin, receiver_fsic_.Get(origin)));
    total += n;
  }
  return total;
}

Result<EncodedChunk> StreamSender::NextJson(const std::optional<Position>& after,
                                            size_t chunk_size) const {
  size_t i = 0;
  uint64_t position = 0;
  if (after) {
    const auto it = std::lower_bound(origins_.begin(), origins_.end(), after->origin);
    if (it == origins_.end() || *it != after->origin) {
      return Status::InvalidArgument("position names an instance this stream does not have");
    }
    i = static_cast<size_t>(it - origins_.begin());
    position = after->counter;
  }
  // The batches read stay in place until the chunk is written: picks view
  // their text.
  std::deque<WireVersions> batches;
  std::vector<Pick> picks;
  std::vector<std::pair<InstanceId, uint64_t>> complete_to;
  std::optional<Position> next;
  const size_t budget = std::max<size_t>(chunk_size * kScanFactor, 1000);
  size_t scanned = 0;
  size_t bytes = 0;  // of the records read, sent or not
  while (i < origins_.size() && picks.size() < chunk_size && scanned < budget &&
         bytes < kChunkBytes) {
    const InstanceId& origin = origins_[i];
    const uint64_t start = std::max(receiver_fsic_.Get(origin), position);
    const size_t want = std::min(chunk_size - picks.size(), budget - scanned);
    // One entry more than wanted says whether the origin is exhausted, so a
    // stream that ends on a chunk boundary needs no empty last chunk. A
    // batch cut short by the byte budget says nothing about the rest.
    BRAID_ASSIGN_OR_RETURN(WireVersions read, store_->StreamWireVersions(origin, start, want + 1,
                                                                         kChunkBytes - bytes));
    const WireVersions& batch = batches.emplace_back(std::move(read));
    size_t batch_bytes = 0;
    for (const auto& v : batch.entries) batch_bytes += v.json.size;
    const bool cut = bytes + batch_bytes >= kChunkBytes;
    const bool exhausted = batch.entries.size() <= want && !cut;
    const size_t use = std::min(batch.entries.size(), want);
    bytes += batch_bytes;
    uint64_t last = start;
    for (size_t k = 0; k < use; ++k) {
      const WireVersions::Entry& v = batch.entries[k];
      ++scanned;
      last = v.position;
      if (v.stale || !InFilter(filter_, batch.View(v.partition))) continue;
      // A record that another origin's stream, earlier in this session,
      // already sent. Sound only when that entry existed at the session
      // start (at or below the sender's FSIC for o): then the version that
      // stream sent already had this origin's entry too (entries at or
      // below the sender's FSIC were in place at the start). An entry above
      // it may have appeared after o's stream went by.
      bool sent = false;
      // (An empty vv is just the record's own version, which is `origin`'s.)
      for (const auto& [o, c] : v.vv.entries()) {
        if (o < origin && c > receiver_fsic_.Get(o) && c <= sender_fsic_.Get(o) &&
            std::binary_search(origins_.begin(), origins_.begin() + static_cast<long>(i), o)) {
          sent = true;
          break;
        }
      }
      if (!sent) picks.push_back({batch.View(v.collection), batch.View(v.id), batch.View(v.json)});
    }
    const uint64_t cap = sender_fsic_.Get(origin);
    // Exhausted: the receiver now has everything this store had of `origin`
    // at the session start. Otherwise: entries at or below the sender's FSIC
    // never move during a session, so completeness up to there is sound.
    const uint64_t complete = exhausted ? cap : std::min(last, cap);
    if (complete > 0) {
      // Skipped entries can take the loop round the same origin again.
      if (!complete_to.empty() && complete_to.back().first == origin) {
        complete_to.back().second = std::max(complete_to.back().second, complete);
      } else {
        complete_to.emplace_back(origin, complete);
      }
    }
    if (exhausted) {
      ++i;
      position = 0;
    } else {
      position = last;
    }
  }
  if (i < origins_.size()) next = Position{origins_[i], position};
  SortByName(&picks);
  std::vector<std::string_view> records;
  records.reserve(picks.size());
  for (const Pick& p : picks) records.push_back(p.json);
  EncodedChunk out;
  out.json = ChunkJson(records, complete_to, next, 0);
  out.records = picks.size();
  out.claims = !complete_to.empty();
  out.next = next;
  return out;
}

Result<Chunk> StreamSender::Next(const std::optional<Position>& after, size_t chunk_size) const {
  BRAID_ASSIGN_OR_RETURN(const EncodedChunk encoded, NextJson(after, chunk_size));
  return ParseChunk(encoded.json);
}

void ApplyCounts::Add(const ApplyCounts& o) {
  received += o.received;
  applied += o.applied;
  merged += o.merged;
  kept += o.kept;
  ignored += o.ignored;
  held += o.held;
  conflicts += o.conflicts;
}

Result<StreamReceiver> StreamReceiver::Create(Store& store, std::vector<std::string> filter,
                                              VersionVector sender_fsic, bool two_way,
                                              std::string peer_name) {
  BRAID_ASSIGN_OR_RETURN(const auto list, store.Policies());
  std::map<std::string, ConflictPolicy> policies;
  for (const auto& [collection, policy] : list) {
    if (two_way && NeedsOneWay(policy)) {
      return Status::Conflict("collection \"" + collection + "\" has the conflict policy " +
                              std::string(PolicyName(policy)) +
                              ", which needs a one-way sync; the sync with " + peer_name +
                              " goes both ways (use --direction pull or push, or another policy)");
    }
    policies.emplace(collection, policy);
  }
  return StreamReceiver(store, std::move(filter), std::move(sender_fsic), std::move(policies),
                        std::move(peer_name));
}

Status StreamReceiver::CheckRecord(const Record& r, size_t index) const {
  if (index >= max_records_) {
    return Status::InvalidArgument(
        peer_name_ + " sent a chunk of more than " + std::to_string(max_records_) +
        " records; the session's chunk size is " + std::to_string(max_records_));
  }
  if (!InFilter(filter_, r.partition)) {
    return Status::InvalidArgument(peer_name_ + " sent record " + r.collection + "/" + r.id +
                                   " of partition \"" + r.partition +
                                   "\", outside this session's filter " + FilterText(filter_));
  }
  return Status::OK();
}

Status StreamReceiver::CheckClaims(
    const std::vector<std::pair<InstanceId, uint64_t>>& complete_to) const {
  for (const auto& [origin, counter] : complete_to) {
    if (counter > sender_fsic_.Get(origin)) {
      return Status::InvalidArgument(peer_name_ + " claimed writes of " + origin.Hex() + " up to " +
                                     std::to_string(counter) +
                                     " beyond what it announced for this session");
    }
  }
  return Status::OK();
}

Status StreamReceiver::ApplyRecord(WriteTransaction& txn, const Record& r, ApplyCounts* counts) {
  auto it = policies_.find(r.collection);
  const ConflictPolicy policy = it != policies_.end() ? it->second : ConflictPolicy::kMerge;
  auto result = txn.Apply(r, policy, BodyForm::kNormalized);
  if (!result.ok()) {
    return result.status().WithContext("record " + r.collection + "/" + r.id + " from " +
                                       peer_name_);
  }
  ++counts->received;
  switch (result->kind) {
    case ApplyResult::Kind::kIgnored:
      ++counts->ignored;
      break;
    case ApplyResult::Kind::kApplied:
      ++counts->applied;
      break;
    case ApplyResult::Kind::kMerged:
      ++counts->merged;
      break;
    case ApplyResult::Kind::kKept:
      ++counts->kept;
      break;
    case ApplyResult::Kind::kHeld:
      ++counts->held;
      break;
  }
  if (result->conflict) ++counts->conflicts;
  return Status::OK();
}

Status StreamReceiver::AdvanceAndCommit(
    WriteTransaction& txn, const std::vector<std::pair<InstanceId, uint64_t>>& complete_to) {
  if (!complete_to.empty()) {
    BRAID_RETURN_IF_ERROR(
        txn.AdvanceFsic(filter_.empty() ? std::vector<std::string>{""} : filter_, complete_to));
  }
  return txn.Commit();
}

namespace {

// Records per batch: small enough that applying starts soon, large enough
// that the locks are rarely taken.
constexpr size_t kReadBatch = 256;

// The records of one chunk, read in batches by two threads in turn: a
// reading thread runs ahead of the applier, and the applier reads the next
// batch itself when none is ready rather than wait for that thread, which
// on a busy machine may not get a core for milliseconds. Batches come out
// in chunk order: a batch is read and queued under read_mu_, so when the
// applier holds read_mu_ and finds the queue empty, no batch is in flight
// and the next one is its to read.
class BatchReader {
 public:
  explicit BatchReader(std::string_view text) : in_(text) {}

  // The reading thread's work: reads ahead until the records end, one is
  // malformed, or the applier gives up.
  void ReadAhead() EXCLUDES(read_mu_, mu_) {
    while (!cancelled_.load(std::memory_order_relaxed)) {
      MutexLock r(read_mu_);
      std::vector<Record> batch;
      if (!ReadBatch(&batch)) return;
      MutexLock l(mu_);
      ready_.push_back(std::move(batch));
    }
  }

  // The applier's: the next batch; empty once every record is read.
  Result<std::vector<Record>> Take() EXCLUDES(read_mu_, mu_) {
    if (auto batch = Pop()) return std::move(*batch);
    MutexLock r(read_mu_);
    if (auto batch = Pop()) return std::move(*batch);
    std::vector<Record> batch;
    if (!ReadBatch(&batch)) BRAID_RETURN_IF_ERROR(status_);
    return batch;
  }

  // What follows the records. Call after Take returned an empty batch.
  Result<Chunk> Finish() EXCLUDES(read_mu_) {
    MutexLock r(read_mu_);
    return in_.Finish();
  }

  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  // Reads the next batch into *out. False when there is none: the records
  // have ended (status_ ok) or one is malformed (status_ says which).
  bool ReadBatch(std::vector<Record>* out) REQUIRES(read_mu_) {
    if (done_) return false;
    out->reserve(kReadBatch);
    auto more = in_.Next(kReadBatch, out);
    if (!more.ok()) status_ = more.status();
    done_ = !more.ok() || !*more;
    return more.ok() && !out->empty();
  }

  std::optional<std::vector<Record>> Pop() EXCLUDES(mu_) {
    MutexLock l(mu_);
    if (ready_.empty()) return std::nullopt;
    std::vector<Record> batch = std::move(ready_.front());
    ready_.pop_front();
    return batch;
  }

  Mutex read_mu_ ACQUIRED_BEFORE(mu_);
  ChunkReader in_ GUARDED_BY(read_mu_);
  bool done_ GUARDED_BY(read_mu_) = false;
  Status status_ GUARDED_BY(read_mu_);
  Mutex mu_;
  std::deque<std::vector<Record>> ready_ GUARDED_BY(mu_);
  std::atomic<bool> cancelled_{false};
};

}  // namespace

Result<StreamReceiver::Applied> StreamReceiver::ApplyText(std::string_view body, Codec codec,
                                                          size_t max_text_bytes) {
  // Decompressed here rather than on the reading thread: the first batch
  // cannot be read before it, and this thread has a core. Into the last
  // chunk's memory, which saves faulting in fresh pages each time, unless
  // that was unusually large.
  constexpr size_t kKeepTextBytes = 32 * 1024 * 1024;
  if (text_.capacity() > kKeepTextBytes) std::string().swap(text_);
  text_.clear();
  std::string_view text = body;
  // Uncompressed and within the limit: read in place, no copy.
  if (codec != Codec::kIdentity || body.size() > max_text_bytes) {
    BRAID_RETURN_IF_ERROR(Decompress(codec, body, &text_, max_text_bytes).WithContext("chunk"));
    text = text_;
  }
  BatchReader batches(text);
  // Declared after the batches, so it is joined before they go.
  // A helper: at a lower priority it uses only spare CPU, and when it gets
  // none this thread reads the batches itself.
  std::jthread reader([&batches] {
    LowerThisThreadPriority();
    batches.ReadAhead();
  });
  auto apply = [&]() -> Result<Applied> {
    Applied out;
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite(Durability::kNormal));
    size_t index = 0;
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const std::vector<Record> batch, batches.Take());
      if (batch.empty()) break;
      for (const Record& r : batch) {
        BRAID_RETURN_IF_ERROR(CheckRecord(r, index++));
        BRAID_RETURN_IF_ERROR(ApplyRecord(*txn, r, &out.counts));
      }
    }
    BRAID_ASSIGN_OR_RETURN(const Chunk envelope, batches.Finish());
    BRAID_RETURN_IF_ERROR(CheckClaims(envelope.complete_to));
    BRAID_RETURN_IF_ERROR(AdvanceAndCommit(*txn, envelope.complete_to));
    out.next = envelope.next;
    out.pending = envelope.pending;
    return out;
  };
  auto result = apply();
  if (!result.ok()) batches.Cancel();  // the reader stops after its batch
  return result;
}

}  // namespace braid::repl
