#include "repl/stream.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>

#include "base/mutex.h"
#include "base/thread_priority.h"
#include "base/validate.h"
#include "repl/rules.h"
#include "store/wire.h"

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

Result<StreamSender::Bounds> StreamSender::ReadBounds(Store& store) {
  Bounds b;
  BRAID_ASSIGN_OR_RETURN(b.origins, store.KnownInstances());
  BRAID_ASSIGN_OR_RETURN(b.ends, store.StreamEnds(b.origins));
  return b;
}

Result<StreamSender> StreamSender::Create(Store& store, std::vector<std::string> filter,
                                          VersionVector receiver_fsic, VersionVector sender_fsic,
                                          Bounds bounds) {
  return StreamSender(store, std::move(filter), std::move(receiver_fsic), std::move(sender_fsic),
                      std::move(bounds.origins), std::move(bounds.ends));
}

Result<StreamSender> StreamSender::Create(Store& store, std::vector<std::string> filter,
                                          VersionVector receiver_fsic, VersionVector sender_fsic) {
  BRAID_ASSIGN_OR_RETURN(Bounds bounds, ReadBounds(store));
  return Create(store, std::move(filter), std::move(receiver_fsic), std::move(sender_fsic),
                std::move(bounds));
}

void StreamSender::UseRules(const Rules* rules, VersionVector floors) {
  rules_ = rules;
  omissions_ = std::make_shared<Omissions>();
  for (const auto& [origin, counter] : floors.entries()) {
    omissions_->caps[origin] = counter > 0 ? counter - 1 : 0;
  }
}

Result<EncodedChunk> StreamSender::NamedJson(
    const std::vector<std::pair<std::string, std::string>>& names) const {
  std::vector<std::string> texts;
  for (const auto& [collection, id] : names) {
    BRAID_ASSIGN_OR_RETURN(const auto r, store_->Get(collection, id));
    if (!r || !InFilter(filter_, r->partition)) continue;
    texts.push_back(WireRecordJson(*r));
  }
  std::vector<std::string_view> records(texts.begin(), texts.end());
  EncodedChunk out;
  out.json = ChunkJson(records, {}, std::nullopt, 0);
  out.records = records.size();
  return out;
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
  // With rules: the records renamed, in their new wire form (picks view
  // them), and the writes left out.
  std::deque<Record> renamed;
  std::deque<std::string> renamed_json;
  std::map<InstanceId, uint64_t> left_out;
  size_t records_left_out = 0;
  auto leave_out = [&](const Record& r) {
    ++records_left_out;
    for (const auto& [o, c] : r.vv.entries()) {
      if (c <= receiver_fsic_.Get(o)) continue;
      auto [it, added] = left_out.emplace(o, c);
      if (!added) it->second = std::min(it->second, c);
    }
  };
  std::vector<std::pair<InstanceId, uint64_t>> scanned_to;
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
    bool exhausted = batch.entries.size() <= want && !cut;
    const size_t use = std::min(batch.entries.size(), want);
    bytes += batch_bytes;
    uint64_t last = start;
    for (size_t k = 0; k < use; ++k) {
      const WireVersions::Entry& v = batch.entries[k];
      if (v.position > ends_[i]) {  // written during the session: the next one's
        exhausted = true;
        break;
      }
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
      // (o's stream stopped at its end from the session start, too.)
      for (const auto& [o, c] : v.vv.entries()) {
        if (o >= origin || c <= receiver_fsic_.Get(o) || c > sender_fsic_.Get(o)) continue;
        const auto at =
            std::lower_bound(origins_.begin(), origins_.begin() + static_cast<long>(i), o);
        if (at != origins_.begin() + static_cast<long>(i) && *at == o &&
            c <= ends_[static_cast<size_t>(at - origins_.begin())]) {
          sent = true;
          break;
        }
      }
      if (sent) continue;
      if (rules_ == nullptr) {
        picks.push_back({batch.View(v.collection), batch.View(v.id), batch.View(v.json)});
        continue;
      }
      const std::string_view text = batch.View(v.json);
      BRAID_RETURN_IF_ERROR(json::Validate(text, nullptr));
      BRAID_ASSIGN_OR_RETURN(Record r, ParseWireRecord(json::Value(text)));
      auto here = [this](std::string_view c, std::string_view i) {
        auto stored = store_->Get(c, i);
        return stored.ok() && stored->has_value();
      };
      if (!rules_->Outgoing(&r, here)) {
        leave_out(r);
        continue;
      }
      const Record& kept = renamed.emplace_back(std::move(r));
      const std::string& json = renamed_json.emplace_back(WireRecordJson(kept));
      picks.push_back({kept.collection, kept.id, json});
    }
    const uint64_t cap = sender_fsic_.Get(origin);
    // Exhausted: the receiver now has everything this store had of `origin`
    // at the session start. Otherwise: entries at or below the sender's FSIC
    // never move during a session, so completeness up to there is sound.
    // (Its end, when the session began: past it, writes made since.)
    const uint64_t complete = exhausted ? std::min(cap, ends_[i]) : std::min(last, cap);
    if (rules_ != nullptr && complete > 0) scanned_to.emplace_back(origin, complete);
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
  if (rules_ != nullptr) {
    // Nothing is claimed at or past a write left out, in this chunk or
    // before (the receiver would never be sent it again).
    std::lock_guard lock(omissions_->mu);
    for (const auto& [o, c] : left_out) {
      auto [it, added] = omissions_->caps.emplace(o, c - 1);
      if (!added) it->second = std::min(it->second, c - 1);
    }
    std::vector<std::pair<InstanceId, uint64_t>> claims;
    for (auto [o, c] : complete_to) {
      if (auto cap = omissions_->caps.find(o); cap != omissions_->caps.end()) {
        c = std::min(c, cap->second);
      }
      if (c > receiver_fsic_.Get(o)) claims.emplace_back(o, c);
    }
    complete_to = std::move(claims);
  }
  SortByName(&picks);
  std::vector<std::string_view> records;
  records.reserve(picks.size());
  for (const Pick& p : picks) records.push_back(p.json);
  EncodedChunk out;
  out.json = ChunkJson(records, complete_to, next, 0);
  out.records = picks.size();
  out.claims = !complete_to.empty();
  out.next = next;
  out.scanned_to = std::move(scanned_to);
  out.left_out.assign(left_out.begin(), left_out.end());
  out.records_left_out = records_left_out;
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
  left_out += o.left_out;
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
  if (!writable_.Covers(r.partition)) {
    return Status::Forbidden(peer_name_ + " sent record " + r.collection + "/" + r.id +
                             " of partition \"" + r.partition + "\", which " + writer_ +
                             " may not write (it may write " + writable_.Describe() +
                             "); nothing of this chunk was applied");
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

Status StreamReceiver::ApplyRecord(WriteTransaction& txn, const Record& r, ApplyCounts* counts,
                                   BodyForm form) {
  auto it = policies_.find(r.collection);
  const ConflictPolicy policy = it != policies_.end() ? it->second : ConflictPolicy::kMerge;
  bool existed = false;
  if (preview_ != nullptr) {
    // As committed before the dry run: nothing of it is.
    BRAID_ASSIGN_OR_RETURN(const auto stored, store_->Get(r.collection, r.id));
    existed = stored && !stored->deleted;
  }
  auto result = txn.Apply(r, policy, form);
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
  if (preview_ != nullptr) {
    CollectionPreview& p = (*preview_)[r.collection];
    switch (result->kind) {
      case ApplyResult::Kind::kApplied:
      case ApplyResult::Kind::kMerged:
        ++(existed ? p.updated : p.created);
        break;
      case ApplyResult::Kind::kHeld:
        ++p.held;
        break;
      default:
        ++p.unchanged;
    }
  }
  return Status::OK();
}

Status StreamReceiver::AdvanceAndCommit(
    WriteTransaction& txn, const std::vector<std::pair<InstanceId, uint64_t>>& complete_to) {
  if (preview_ != nullptr) return Status::OK();  // rolled back when txn goes
  if (rules_ != nullptr) {
    // The floors first: the FSIC advance below stays under them.
    std::vector<std::pair<InstanceId, uint64_t>> floors(chunk_floors_.begin(), chunk_floors_.end());
    BRAID_RETURN_IF_ERROR(txn.MoveMarks(remote_, MarkKind::kPullFloor, floors));
    BRAID_RETURN_IF_ERROR(txn.MoveMarks(remote_, MarkKind::kPull, complete_to));
  } else if (filter_.empty() && !complete_to.empty()) {
    // Every write up to these from this store's FSIC on: whatever rules
    // left out before is here now.
    BRAID_RETURN_IF_ERROR(txn.LiftPullFloors(complete_to));
  }
  if (!complete_to.empty()) {
    BRAID_RETURN_IF_ERROR(
        txn.AdvanceFsic(filter_.empty() ? std::vector<std::string>{""} : filter_, complete_to));
  }
  return txn.Commit();
}

void StreamReceiver::LeaveOut(const Record& r, ApplyCounts* counts,
                              std::map<InstanceId, uint64_t>* floors) {
  ++counts->received;
  ++counts->left_out;
  if (preview_ != nullptr) ++(*preview_)[r.collection].left_out;
  for (const auto& [o, c] : r.vv.entries()) {
    if (c <= start_.Get(o)) continue;
    auto [it, added] = floors->emplace(o, c);
    if (!added) it->second = std::min(it->second, c);
  }
}

Status StreamReceiver::ApplyShaped(WriteTransaction& txn, const Record& r, ApplyCounts* counts,
                                   std::vector<Record>* passed,
                                   std::map<InstanceId, uint64_t>* floors) {
  Record here = r;
  const Rules::Fate fate = rules_->Incoming(&here);
  if (fate == Rules::Fate::kDrop) {
    LeaveOut(r, counts, floors);
    return Status::OK();
  }
  if (fate == Rules::Fate::kIfWanted && wanted_.erase({here.collection, here.id}) == 0) {
    BRAID_ASSIGN_OR_RETURN(const auto stored, store_->Get(here.collection, here.id));
    if (!stored) {
      passed->push_back(std::move(here));
      return Status::OK();
    }
  }
  // A body with renamed references is checked again (its size).
  const BodyForm form = here.body == r.body ? BodyForm::kChecked : BodyForm::kNormalized;
  BRAID_RETURN_IF_ERROR(ApplyRecord(txn, here, counts, form));
  rules_->AddWanted(here, &wanted_);
  wanted_.erase({here.collection, here.id});
  return Status::OK();
}

Status StreamReceiver::SettlePassed(WriteTransaction& txn, std::vector<Record>* passed,
                                    ApplyCounts* counts, std::map<InstanceId, uint64_t>* floors) {
  // A record taken may reference one passed earlier in the chunk; taking
  // it may make another wanted: round after round until none is.
  for (bool again = true; again && !passed->empty();) {
    again = false;
    for (auto it = passed->begin(); it != passed->end();) {
      if (wanted_.erase({it->collection, it->id}) == 0) {
        ++it;
        continue;
      }
      BRAID_RETURN_IF_ERROR(ApplyRecord(txn, *it, counts, BodyForm::kNormalized));
      rules_->AddWanted(*it, &wanted_);
      it = passed->erase(it);
      again = true;
    }
  }
  for (const Record& r : *passed) LeaveOut(r, counts, floors);
  passed->clear();
  return Status::OK();
}

namespace {

// Records per batch: small enough that applying starts soon, large enough
// that the lock is rarely taken.
constexpr size_t kReadBatch = 256;

}  // namespace

// The records of one chunk, read in batches by two threads: a reading
// thread runs ahead of the applier, and when no batch is ready the applier
// reads the next one itself. Neither ever waits for the other to finish a
// batch. The read position (`at_`, a ChunkReader at a batch boundary) is
// copied by whoever reads a batch, who publishes the copy with the batch
// only if nobody took the position over meanwhile (`epoch_`). So when the
// applier finds no batch ready it starts the next one over from the last
// boundary, and the reading thread, which at a low priority on a busy
// machine may be off a core for milliseconds in the middle of a batch
// (the applier waited 56-115 ms per 100k-record pull for it when the
// position was a lock held for a batch), throws its copy away. Batches
// come out in chunk order: each is read from where the previous one left
// off.
class StreamReceiver::BatchReader {
 public:
  struct Batch {
    std::vector<Record> records;
    bool end = false;  // the records ended, or one is malformed (status)
    Status status;
    bool own = false;  // read by the applier itself
  };

  // `check` runs on each record as it is read (by whichever thread).
  BatchReader(std::string_view text, std::function<Status(const Record&)> check, ReadHooks hooks)
      : check_(std::move(check)), hooks_(std::move(hooks)), at_(text) {}

  // The reading thread's work: reads ahead until the records end, one is
  // malformed, or Stop; frees the batches it read once the applier is done
  // with them, until Stop.
  void ReadAhead() EXCLUDES(mu_) {
    for (;;) {
      std::optional<ChunkReader> in;
      uint64_t epoch = 0;
      std::deque<std::vector<Record>> spent;
      {
        MutexLock l(mu_);
        // While the applier reads a batch, its copy is the one to go on from.
        while ((applier_reading_ || done_) && !stopped_ && spent_.empty()) cv_.wait(mu_);
        spent.swap(spent_);
        if (stopped_ && spent.empty()) return;
        if (!applier_reading_ && !done_ && !stopped_) {
          in.emplace(at_);
          epoch = epoch_.load(std::memory_order_relaxed);
        }
      }
      spent.clear();  // outside the lock
      if (!in) continue;
      Batch b = Read(*in, epoch);
      MutexLock l(mu_);
      if (epoch_.load(std::memory_order_relaxed) != epoch) continue;  // taken over
      at_ = std::move(*in);
      if (!b.records.empty() && b.status.ok()) ready_.push_back(std::move(b.records));
      if (b.end) {
        done_ = true;
        status_ = std::move(b.status);
      }
    }
  }

  // The applier's: the next batch; empty once every record is read. Hand
  // each back with Done when applied.
  Result<Batch> Take() EXCLUDES(mu_) {
    std::optional<ChunkReader> in;
    for (bool hooked = !hooks_.before_takeover;; hooked = true) {
      {
        MutexLock l(mu_);
        if (!ready_.empty()) {
          Batch batch;
          batch.records = std::move(ready_.front());
          ready_.pop_front();
          return batch;
        }
        if (done_) {
          BRAID_RETURN_IF_ERROR(status_);
          return Batch();
        }
        if (hooked) {
          // The reading thread's batch in progress, if any, is thrown away.
          epoch_.fetch_add(1, std::memory_order_relaxed);
          applier_reading_ = true;
          in.emplace(at_);
          break;
        }
      }
      hooks_.before_takeover();
    }
    if (hooks_.taken_over) hooks_.taken_over();
    Batch b = Read(*in, kApplier);
    MutexLock l(mu_);
    applier_reading_ = false;
    cv_.notify_all();
    at_ = std::move(*in);
    if (b.end) {
      done_ = true;
      status_ = b.status;
    }
    BRAID_RETURN_IF_ERROR(b.status);
    b.own = true;
    return b;
  }

  // A batch Take returned, applied. The reading thread frees those it
  // read: freeing them here took the lock of the malloc arena they came
  // from, which the reading thread holds while it allocates, and at a low
  // priority it may hold it off a core (57 waits in a 100k-record pull).
  void Done(Batch batch) EXCLUDES(mu_) {
    if (batch.own || batch.records.empty()) return;
    MutexLock l(mu_);
    spent_.push_back(std::move(batch.records));
    cv_.notify_all();
  }

  // What follows the records. Call after Take returned an empty batch.
  Result<Chunk> Finish() EXCLUDES(mu_) {
    MutexLock l(mu_);
    return at_.Finish();
  }

  // The applier is done with the chunk: the reading thread stops, at the
  // latest after the record it is reading.
  void Stop() EXCLUDES(mu_) {
    MutexLock l(mu_);
    stopped_ = true;
    epoch_.fetch_add(1, std::memory_order_relaxed);
    cv_.notify_all();
  }

 private:
  static constexpr uint64_t kApplier = UINT64_MAX;

  // Reads up to kReadBatch records from `in`. The reading thread (`epoch`
  // not kApplier) gives up as soon as its batch has been taken over.
  Batch Read(ChunkReader& in, uint64_t epoch) {
    Batch b;
    b.records.reserve(kReadBatch);
    for (size_t i = 0; i < kReadBatch; ++i) {
      if (epoch != kApplier) {
        if (hooks_.before_record) hooks_.before_record(i);
        if (epoch_.load(std::memory_order_relaxed) != epoch) break;
      }
      auto more = in.Next(1, &b.records);
      Status checked = more.ok() && *more ? check_(b.records.back()) : Status::OK();
      if (!more.ok() || !*more || !checked.ok()) {
        b.end = true;
        b.status = !more.ok() ? more.status() : std::move(checked);
        break;
      }
    }
    return b;
  }

  const std::function<Status(const Record&)> check_;
  const ReadHooks hooks_;
  Mutex mu_;
  CondVar cv_;
  ChunkReader at_ GUARDED_BY(mu_);  // where the next batch starts
  std::deque<std::vector<Record>> ready_ GUARDED_BY(mu_);
  std::deque<std::vector<Record>> spent_ GUARDED_BY(mu_);  // applied, to free
  bool done_ GUARDED_BY(mu_) = false;  // every record is read (or status_ says why not)
  Status status_ GUARDED_BY(mu_);
  bool applier_reading_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  // Changes whenever the applier takes the position over (or stops).
  std::atomic<uint64_t> epoch_{0};
};

StreamReceiver::ReadingThread::~ReadingThread() = default;
StreamReceiver::StreamReceiver(StreamReceiver&&) noexcept = default;
StreamReceiver::~StreamReceiver() = default;

Result<StreamReceiver::Applied> StreamReceiver::ApplyText(std::string_view body, Codec codec,
                                                          size_t max_text_bytes) {
  // The last chunk's reading thread, stopped when that chunk was done, has
  // long finished; it is joined here, before its text is overwritten,
  // rather than then, when it could have been without a core.
  reading_.reset();
  // Decompressed here rather than on the reading thread: the first batch
  // cannot be read before it, and this thread has a core. Into the last
  // chunk's memory, which saves faulting in fresh pages each time, unless
  // that was unusually large. Uncompressed chunks are copied too: the
  // reading thread may outlive this call, so it reads only text_.
  constexpr size_t kKeepTextBytes = 32 * 1024 * 1024;
  if (text_.capacity() > kKeepTextBytes) std::string().swap(text_);
  text_.clear();
  BRAID_RETURN_IF_ERROR(Decompress(codec, body, &text_, max_text_bytes).WithContext("chunk"));
  // Records are checked as they are read, as Apply would check them, so
  // that work is mostly off this thread; Apply then checks only what
  // depends on the store (BodyForm::kChecked).
  auto check = [peer = peer_name_, max_body = store_->max_body_bytes(),
                &clock = store_->clock()](const Record& r) {
    Status s = CheckPeerVersion(r, BodyForm::kNormalized, max_body, clock.NowMillis(), nullptr);
    // Named as ApplyRecord names what Apply refuses.
    return s.ok() ? s : s.WithContext("record " + r.collection + "/" + r.id + " from " + peer);
  };
  auto start_reading = [&]() -> BatchReader& {
    reading_.reset();
    reading_ = std::make_unique<ReadingThread>();
    reading_->batches = std::make_unique<BatchReader>(text_, check, read_hooks_);
    BatchReader& batches = *reading_->batches;
    // A helper: at a lower priority it uses only spare CPU, and when it has
    // none ready this thread reads the batches itself.
    reading_->thread = std::jthread([&batches] {
      LowerThisThreadPriority();
      batches.ReadAhead();
    });
    return batches;
  };
  auto apply = [&](BatchReader& batches) -> Result<Applied> {
    Applied out;
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite(Durability::kNormal));
    size_t index = 0;
    std::vector<Record> passed;  // with rules: records to take if the chunk references them
    std::vector<std::pair<std::string_view, std::string_view>> names;
    chunk_floors_.clear();
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(BatchReader::Batch batch, batches.Take());
      if (batch.records.empty()) break;
      if (rules_ == nullptr) {
        // One lookup for the batch where a lookup costs a round trip; none
        // once the session's records have all been new (an initial pull).
        names.clear();
        for (const Record& r : batch.records) names.emplace_back(r.collection, r.id);
        BRAID_ASSIGN_OR_RETURN(const size_t found, txn->Prefetch(names, assume_new_));
        if (!assume_new_ && found == 0 && names.size() >= kAssumeNewAfter) assume_new_ = true;
      }
      for (const Record& r : batch.records) {
        BRAID_RETURN_IF_ERROR(CheckRecord(r, index++));
        if (rules_ != nullptr) {
          BRAID_RETURN_IF_ERROR(ApplyShaped(*txn, r, &out.counts, &passed, &chunk_floors_));
        } else {
          BRAID_RETURN_IF_ERROR(ApplyRecord(*txn, r, &out.counts));
        }
      }
      batches.Done(std::move(batch));
    }
    if (rules_ != nullptr) {
      BRAID_RETURN_IF_ERROR(SettlePassed(*txn, &passed, &out.counts, &chunk_floors_));
    }
    BRAID_ASSIGN_OR_RETURN(const Chunk envelope, batches.Finish());
    BRAID_RETURN_IF_ERROR(CheckClaims(envelope.complete_to));
    BRAID_RETURN_IF_ERROR(AdvanceAndCommit(*txn, envelope.complete_to));
    out.next = envelope.next;
    out.pending = envelope.pending;
    return out;
  };
  BatchReader* batches = &start_reading();
  auto result = apply(*batches);
  batches->Stop();
  if (!result.ok() && IsAssumedNewConflict(result.status())) {
    // A record taken for new was here (written locally meanwhile, or the
    // session's records stopped being new): nothing of the chunk was
    // written; it is applied again with lookups, as the rest of the
    // session will be.
    assume_new_ = false;
    batches = &start_reading();
    result = apply(*batches);
    batches->Stop();
  }
  return result;
}

}  // namespace braid::repl
