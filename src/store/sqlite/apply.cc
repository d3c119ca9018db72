// SqliteWriteTransaction: versions received from peers, FSIC advances and
// conflict resolution.

#include "base/log.h"
#include "base/validate.h"
#include "braid/hlc.h"
#include "store/content.h"
#include "store/merge.h"
#include "store/sqlite/write_txn.h"
#include "store/wire.h"

namespace braid::sqlite {
namespace {

// A peer whose clock runs further ahead than this would drag every HLC of
// this store with it; its versions are refused instead.
constexpr int64_t kMaxClockDriftMs = 3'600'000;

std::string Name(const Record& r) { return r.collection + "/" + r.id; }

}  // namespace

Result<ApplyResult> SqliteWriteTransaction::Apply(const Record& in, ConflictPolicy policy) {
  BRAID_RETURN_IF_ERROR(Usable());
  // Everything from a peer is checked before anything is written.
  BRAID_RETURN_IF_ERROR(ValidateCollection(in.collection));
  BRAID_RETURN_IF_ERROR(ValidateRecordId(in.id));
  BRAID_RETURN_IF_ERROR(ValidatePartition(in.partition).WithContext(Name(in)));
  if (in.parent) BRAID_RETURN_IF_ERROR(ValidateParent(*in.parent).WithContext(Name(in)));
  if (in.deleted) {
    if (in.body != "{}") {
      return Status::InvalidArgument(Name(in) + ": a tombstone's body must be {}");
    }
    body_ = "{}";
  } else {
    BRAID_RETURN_IF_ERROR(
        NormalizeBody(in.body, store_->options().max_body_bytes, &body_).WithContext(Name(in)));
  }
  if (in.version.counter == 0 || in.version.origin.IsZero() ||
      in.vv.Get(in.version.origin) < in.version.counter) {
    return Status::InvalidArgument(Name(in) + ": version " + in.version.ToString() +
                                   " is not in its version vector");
  }
  if (in.hlc == 0) return Status::InvalidArgument(Name(in) + ": missing HLC");
  const int64_t ahead = hlc::Millis(in.hlc) - store_->clock().NowMillis();
  if (ahead > kMaxClockDriftMs) {
    return Status::InvalidArgument(Name(in) + ": the peer's clock is " +
                                   std::to_string(ahead / 60'000) +
                                   " minutes ahead of this one; fix its clock and sync again");
  }
  BRAID_RETURN_IF_ERROR(ValidateFieldClocks(in.field_clocks).WithContext(Name(in)));
  BRAID_RETURN_IF_ERROR(ValidateConflicts(in.conflicts).WithContext(Name(in)));

  Record incoming = in;
  incoming.body = body_;
  hlc_.Observe(in.hlc);
  ApplyResult result;

  // New to this store (the whole of an initial pull): one insert, no lookup.
  // Tombstones are stored too: a peer with an older live version must not
  // bring the record back.
  BRAID_ASSIGN_OR_RETURN(const LocalVector incoming_vv, ToLocal(incoming.vv));
  BRAID_ASSIGN_OR_RETURN(const int64_t inserted,
                         StoreVersion(std::nullopt, incoming, incoming_vv, /*if_absent=*/true));
  if (inserted != 0) {
    result.kind = ApplyResult::Kind::kApplied;
    return result;
  }
  BRAID_ASSIGN_OR_RETURN(auto prev, Load(in.collection, in.id));
  if (!prev) return Poison(Status::Internal("record vanished inside a write transaction"));
  const Record& local = prev->record;
  if (local.partition != in.partition) {
    return Status::InvalidArgument(Name(in) + ": the peer has it in partition \"" + in.partition +
                                   "\", this store in \"" + local.partition +
                                   "\"; a record's partition never changes");
  }
  BRAID_ASSIGN_OR_RETURN(const MergeDecision d, Merge(local, incoming, policy));
  result.conflict = d.conflict;
  if (d.kind != MergeDecision::Kind::kIgnore && d.kind != MergeDecision::Kind::kHold) {
    // Held versions the stored version now includes were decided elsewhere.
    BRAID_RETURN_IF_ERROR(DropDominatedHeld(in.collection, in.id, d.vv));
  }
  switch (d.kind) {
    case MergeDecision::Kind::kIgnore:
      result.kind = ApplyResult::Kind::kIgnored;
      return result;
    case MergeDecision::Kind::kTakeIncoming: {
      incoming.vv = d.vv;
      BRAID_ASSIGN_OR_RETURN(const LocalVector vv, ToLocal(d.vv));
      BRAID_RETURN_IF_ERROR(Poison(StoreVersion(prev, incoming, vv).status()));
      result.kind = ApplyResult::Kind::kApplied;
      return result;
    }
    case MergeDecision::Kind::kKeepLocal: {
      result.kind = ApplyResult::Kind::kKept;
      if (d.vv == local.vv) return result;
      Record next = local;
      next.vv = d.vv;
      BRAID_ASSIGN_OR_RETURN(const LocalVector vv, ToLocal(d.vv));
      BRAID_RETURN_IF_ERROR(Poison(StoreVersion(prev, next, vv).status()));
      return result;
    }
    case MergeDecision::Kind::kNewVersion: {
      Record next = local;
      const uint64_t counter = state_.counter + 1;
      next.version = {store_->instance_id(), counter};
      next.hlc = hlc_.Now();
      StoreContent(d.content, &next);
      next.vv = d.vv;
      next.vv.Set(store_->instance_id(), counter);
      BRAID_ASSIGN_OR_RETURN(const LocalVector vv, ToLocal(next.vv));
      BRAID_RETURN_IF_ERROR(Poison(StoreVersion(prev, next, vv).status()));
      state_.counter = counter;
      result.kind = ApplyResult::Kind::kMerged;
      return result;
    }
    case MergeDecision::Kind::kHold: {
      BRAID_ASSIGN_OR_RETURN(
          Stmt s,
          db_->Prepare("INSERT OR IGNORE INTO held(collection, id, origin, counter, record) "
                       "VALUES (?, ?, ?, ?, ?)"));
      const std::string wire = WireRecordJson(incoming);
      s.Bind(1, in.collection)
          .Bind(2, in.id)
          .BindBlob(3, in.version.origin.AsBytes())
          .Bind(4, static_cast<int64_t>(in.version.counter))
          .Bind(5, wire);
      BRAID_RETURN_IF_ERROR(Poison(s.Run()));
      result.kind = ApplyResult::Kind::kHeld;
      return result;
    }
  }
  return Status::Internal("unknown merge decision");
}

Status SqliteWriteTransaction::DropDominatedHeld(std::string_view collection, std::string_view id,
                                                 const VersionVector& vv) {
  BRAID_ASSIGN_OR_RETURN(const auto held, store_->HeldVersionsOn(*db_, collection, id));
  for (const auto& h : held) {
    if (!h.vv.IsIncludedIn(vv)) continue;
    BRAID_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("DELETE FROM held WHERE collection = ? AND id = ? AND origin = ? "
                             "AND counter = ?"));
    s.Bind(1, collection)
        .Bind(2, id)
        .BindBlob(3, h.version.origin.AsBytes())
        .Bind(4, static_cast<int64_t>(h.version.counter));
    BRAID_RETURN_IF_ERROR(Poison(s.Run()));
  }
  return Status::OK();
}

Status SqliteWriteTransaction::AdvanceFsic(
    const std::vector<std::string>& prefixes,
    const std::vector<std::pair<InstanceId, uint64_t>>& counters) {
  BRAID_RETURN_IF_ERROR(Usable());
  for (const auto& p : prefixes) {
    if (!p.empty()) BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("filter"));
  }
  for (const auto& [id, counter] : counters) {
    if (id == store_->instance_id()) continue;  // own writes are always complete
    BRAID_ASSIGN_OR_RETURN(const uint32_t num, NumFor(id));
    for (const auto& p : prefixes) {
      BRAID_ASSIGN_OR_RETURN(
          Stmt s, db_->Prepare("INSERT INTO fsic(prefix, origin, counter) VALUES (?, ?, ?) "
                               "ON CONFLICT (prefix, origin) DO UPDATE "
                               "SET counter = max(counter, excluded.counter)"));
      s.Bind(1, p).Bind(2, static_cast<int64_t>(num)).Bind(3, static_cast<int64_t>(counter));
      BRAID_RETURN_IF_ERROR(Poison(s.Run()));
    }
  }
  return Status::OK();
}

Result<WriteResult> SqliteWriteTransaction::Resolve(std::string_view collection,
                                                    std::string_view id,
                                                    std::optional<std::string_view> body) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  BRAID_RETURN_IF_ERROR(ValidateRecordId(id));
  if (body) BRAID_RETURN_IF_ERROR(NormalizeBody(*body, store_->options().max_body_bytes, &body_));
  BRAID_ASSIGN_OR_RETURN(auto prev, Load(collection, id));
  const std::string name = std::string(collection) + "/" + std::string(id);
  if (!prev) return Status::NotFound("record " + name + " does not exist");
  BRAID_ASSIGN_OR_RETURN(const auto held, store_->HeldVersionsOn(*db_, collection, id));
  if (prev->record.conflicts.empty() && held.empty()) {
    return Status::NotFound("record " + name + " has no conflicts to resolve");
  }
  // The resolution dominates every version it chose from, so it replaces
  // them on every replica it reaches.
  VersionVector vv = prev->record.vv;
  for (const auto& h : held) vv.MergeFrom(h.vv);
  BRAID_ASSIGN_OR_RETURN(LocalVector local_vv, ToLocal(vv));
  Record next = prev->record;
  next.conflicts.clear();
  const uint64_t counter = state_.counter + 1;
  if (body) {
    const FieldWrite write{hlc_.Now(), store_->instance_id(), counter};
    Record old = prev->record;
    old.conflicts.clear();
    BRAID_ASSIGN_OR_RETURN(Content content, ContentAfterPut(old, body_, write));
    next.deleted = false;
    next.body = body_;
    next.field_clocks = ClocksFor(content, write);
    next.hlc = write.hlc;
  } else {
    // Keep the current content; its field writes stay as they are, now
    // relative to the new version's write.
    BRAID_ASSIGN_OR_RETURN(Content content, ParseContent(prev->record));
    content.conflicts.clear();
    next.hlc = hlc_.Now();
    next.version = {store_->instance_id(), counter};
    StoreContent(content, &next);
    next.body = prev->record.deleted ? "{}" : prev->record.body;  // keep the body's own order
  }
  next.version = {store_->instance_id(), counter};
  local_vv.Set(state_.self, counter);
  vv.Set(store_->instance_id(), counter);
  next.vv = vv;
  BRAID_RETURN_IF_ERROR(Poison(StoreVersion(prev, next, local_vv).status()));
  state_.counter = counter;
  BRAID_ASSIGN_OR_RETURN(Stmt del,
                         db_->Prepare("DELETE FROM held WHERE collection = ? AND id = ?"));
  BRAID_RETURN_IF_ERROR(Poison(del.Bind(1, collection).Bind(2, id).Run()));
  return MakeResult(prev->record.deleted && next.deleted ? WriteOp::kDeleted
                    : prev->record.deleted               ? WriteOp::kCreated
                                                         : WriteOp::kUpdated,
                    state_.seq, std::move(next));
}

}  // namespace braid::sqlite
