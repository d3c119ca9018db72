#include "repl/stream.h"

#include <algorithm>
#include <deque>
#include <thread>

#include "base/mutex.h"
#include "base/validate.h"

namespace braid::repl {
namespace {

// Entries one chunk may scan, as a multiple of its size: bounds the work of
// a request when most entries are filtered out or sent in another stream.
constexpr size_t kScanFactor = 20;

// Record bytes (RecordBytes) after which a chunk stops, whatever its record
// count: with the default chunk size of 5,000 and bodies of up to
// store.max_record_bytes, counts alone would let one chunk reach gigabytes
// in memory on both sides. A chunk ends after the record that crosses it.
constexpr size_t kChunkBytes = 8 * 1024 * 1024;

std::string FilterText(const std::vector<std::string>& filter) {
  std::string s = "[";
  for (size_t i = 0; i < filter.size(); ++i) s += (i ? ", " : "") + filter[i];
  return s + "]";
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

Result<Chunk> StreamSender::Next(const std::optional<Position>& after, size_t chunk_size) const {
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
  Chunk chunk;
  const size_t budget = std::max<size_t>(chunk_size * kScanFactor, 1000);
  size_t scanned = 0;
  size_t bytes = 0;  // of the records read, sent or not
  while (i < origins_.size() && chunk.records.size() < chunk_size && scanned < budget &&
         bytes < kChunkBytes) {
    const InstanceId& origin = origins_[i];
    const uint64_t start = std::max(receiver_fsic_.Get(origin), position);
    const size_t want = std::min(chunk_size - chunk.records.size(), budget - scanned);
    // One entry more than wanted says whether the origin is exhausted, so a
    // stream that ends on a chunk boundary needs no empty last chunk. A
    // batch cut short by the byte budget says nothing about the rest.
    BRAID_ASSIGN_OR_RETURN(std::vector<StreamedVersion> batch,
                           store_->StreamVersions(origin, start, want + 1, kChunkBytes - bytes));
    size_t batch_bytes = 0;
    for (const auto& v : batch) batch_bytes += RecordBytes(v.record);
    const bool cut = bytes + batch_bytes >= kChunkBytes;
    const bool exhausted = batch.size() <= want && !cut;
    if (batch.size() > want) batch.pop_back();
    bytes += batch_bytes;
    uint64_t last = start;
    for (auto& v : batch) {
      ++scanned;
      last = v.position;
      if (v.stale || !InFilter(filter_, v.record.partition)) continue;
      // A record that another origin's stream, earlier in this session,
      // already sent. Sound only when that entry existed at the session
      // start (at or below the sender's FSIC for o): then the version that
      // stream sent already had this origin's entry too (entries at or
      // below the sender's FSIC were in place at the start). An entry above
      // it may have appeared after o's stream went by.
      bool sent = false;
      for (const auto& [o, c] : v.record.vv.entries()) {
        if (o < origin && c > receiver_fsic_.Get(o) && c <= sender_fsic_.Get(o) &&
            std::binary_search(origins_.begin(), origins_.begin() + static_cast<long>(i), o)) {
          sent = true;
          break;
        }
      }
      if (!sent) chunk.records.push_back(std::move(v.record));
    }
    const uint64_t cap = sender_fsic_.Get(origin);
    // Exhausted: the receiver now has everything this store had of `origin`
    // at the session start. Otherwise: entries at or below the sender's FSIC
    // never move during a session, so completeness up to there is sound.
    const uint64_t complete = exhausted ? cap : std::min(last, cap);
    if (complete > 0) {
      // Skipped entries can take the loop round the same origin again.
      if (!chunk.complete_to.empty() && chunk.complete_to.back().first == origin) {
        chunk.complete_to.back().second = std::max(chunk.complete_to.back().second, complete);
      } else {
        chunk.complete_to.emplace_back(origin, complete);
      }
    }
    if (exhausted) {
      ++i;
      position = 0;
    } else {
      position = last;
    }
  }
  if (i < origins_.size()) chunk.next = Position{origins_[i], position};
  return chunk;
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

// Records per hand-over from the reading thread: small enough that
// applying starts soon, large enough that the lock is rarely taken.
constexpr size_t kReadBatch = 256;

// Batches of records from the reading thread to the applying one.
class RecordPipe {
 public:
  // Reader side. Returns false when the applier has given up.
  bool Put(std::vector<Record> batch) EXCLUDES(mu_) {
    MutexLock l(mu_);
    ready_.push_back(std::move(batch));
    cv_.notify_one();
    return !cancelled_;
  }
  void Close(Result<Chunk> envelope) EXCLUDES(mu_) {
    MutexLock l(mu_);
    envelope_ = std::move(envelope);
    closed_ = true;
    cv_.notify_one();
  }
  // Applier side: the next batch, or nullopt once the reader closed the
  // pipe and every batch was taken.
  std::optional<std::vector<Record>> Take() EXCLUDES(mu_) {
    MutexLock l(mu_);
    while (ready_.empty() && !closed_) cv_.wait(mu_);
    if (ready_.empty()) return std::nullopt;
    std::vector<Record> batch = std::move(ready_.front());
    ready_.pop_front();
    return batch;
  }
  Result<Chunk> TakeEnvelope() EXCLUDES(mu_) {
    MutexLock l(mu_);
    return std::move(envelope_);
  }
  void Cancel() EXCLUDES(mu_) {
    MutexLock l(mu_);
    cancelled_ = true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::deque<std::vector<Record>> ready_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  bool cancelled_ GUARDED_BY(mu_) = false;
  Result<Chunk> envelope_ GUARDED_BY(mu_) = Status::Internal("chunk reader did not finish");
};

}  // namespace

Result<StreamReceiver::Applied> StreamReceiver::ApplyText(std::string_view body, Codec codec,
                                                          size_t max_text_bytes) {
  RecordPipe pipe;
  std::string text;  // the decompressed chunk, which the records view
  // Declared after the pipe and the text, so it is joined before they go.
  std::jthread reader([&pipe, &text, body, codec, max_text_bytes] {
    if (Status s = Decompress(codec, body, &text, max_text_bytes); !s.ok()) {
      return pipe.Close(s.WithContext("chunk"));
    }
    ChunkReader in(text);
    for (;;) {
      std::vector<Record> batch;
      batch.reserve(kReadBatch);
      auto more = in.Next(kReadBatch, &batch);
      if (!more.ok()) return pipe.Close(more.status());
      // After a failed Put nobody reads the envelope: the applier stopped.
      if (!batch.empty() && !pipe.Put(std::move(batch))) return pipe.Close(Chunk());
      if (!*more) return pipe.Close(in.Finish());
    }
  });
  auto apply = [&]() -> Result<Applied> {
    Applied out;
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite(Durability::kNormal));
    size_t index = 0;
    while (auto batch = pipe.Take()) {
      for (const Record& r : *batch) {
        BRAID_RETURN_IF_ERROR(CheckRecord(r, index++));
        BRAID_RETURN_IF_ERROR(ApplyRecord(*txn, r, &out.counts));
      }
    }
    BRAID_ASSIGN_OR_RETURN(const Chunk envelope, pipe.TakeEnvelope());
    BRAID_RETURN_IF_ERROR(CheckClaims(envelope.complete_to));
    BRAID_RETURN_IF_ERROR(AdvanceAndCommit(*txn, envelope.complete_to));
    out.next = envelope.next;
    out.pending = envelope.pending;
    return out;
  };
  auto result = apply();
  if (!result.ok()) pipe.Cancel();  // the reader stops at its next batch
  return result;
}

}  // namespace braid::repl
