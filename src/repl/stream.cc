#include "repl/stream.h"

#include <algorithm>

#include "base/validate.h"

namespace braid::repl {
namespace {

// Entries one chunk may scan, as a multiple of its size: bounds the work of
// a request when most entries are filtered out or sent in another stream.
constexpr size_t kScanFactor = 20;

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
  while (i < origins_.size() && chunk.records.size() < chunk_size && scanned < budget) {
    const InstanceId& origin = origins_[i];
    const uint64_t start = std::max(receiver_fsic_.Get(origin), position);
    const size_t want = std::min(chunk_size - chunk.records.size(), budget - scanned);
    // One entry more than wanted says whether the origin is exhausted, so a
    // stream that ends on a chunk boundary needs no empty last chunk.
    BRAID_ASSIGN_OR_RETURN(std::vector<StreamedVersion> batch,
                           store_->StreamVersions(origin, start, want + 1));
    const bool exhausted = batch.size() <= want;
    if (!exhausted) batch.pop_back();
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

Result<ApplyCounts> StreamReceiver::Apply(const Chunk& chunk) {
  // Check what can be checked before taking the write lock.
  if (chunk.records.size() > max_records_) {
    return Status::InvalidArgument(
        peer_name_ + " sent a chunk of " + std::to_string(chunk.records.size()) +
        " records; the session's chunk size is " + std::to_string(max_records_));
  }
  for (const auto& r : chunk.records) {
    if (!InFilter(filter_, r.partition)) {
      return Status::InvalidArgument(peer_name_ + " sent record " + r.collection + "/" + r.id +
                                     " of partition \"" + r.partition +
                                     "\", outside this session's filter " + FilterText(filter_));
    }
  }
  for (const auto& [origin, counter] : chunk.complete_to) {
    if (counter > sender_fsic_.Get(origin)) {
      return Status::InvalidArgument(peer_name_ + " claimed writes of " + origin.Hex() + " up to " +
                                     std::to_string(counter) +
                                     " beyond what it announced for this session");
    }
  }
  ApplyCounts counts;
  BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite(Durability::kNormal));
  for (const auto& r : chunk.records) {
    auto it = policies_.find(r.collection);
    const ConflictPolicy policy = it != policies_.end() ? it->second : ConflictPolicy::kMerge;
    auto result = txn->Apply(r, policy);
    if (!result.ok()) {
      return result.status().WithContext("record " + r.collection + "/" + r.id + " from " +
                                         peer_name_);
    }
    ++counts.received;
    switch (result->kind) {
      case ApplyResult::Kind::kIgnored:
        ++counts.ignored;
        break;
      case ApplyResult::Kind::kApplied:
        ++counts.applied;
        break;
      case ApplyResult::Kind::kMerged:
        ++counts.merged;
        break;
      case ApplyResult::Kind::kKept:
        ++counts.kept;
        break;
      case ApplyResult::Kind::kHeld:
        ++counts.held;
        break;
    }
    if (result->conflict) ++counts.conflicts;
  }
  if (!chunk.complete_to.empty()) {
    BRAID_RETURN_IF_ERROR(txn->AdvanceFsic(filter_.empty() ? std::vector<std::string>{""} : filter_,
                                           chunk.complete_to));
  }
  BRAID_RETURN_IF_ERROR(txn->Commit());
  return counts;
}

}  // namespace braid::repl
