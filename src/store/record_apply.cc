// RecordWriter: versions received from peers, FSIC advances, held versions
// and conflict resolution.

#include <algorithm>

#include "base/log.h"
#include "base/validate.h"
#include "store/content.h"
#include "store/merge.h"
#include "store/record_writer.h"
#include "store/wire.h"

namespace braid {
namespace {

std::string Name(const Record& r) { return r.collection + "/" + r.id; }

}  // namespace

Result<ApplyResult> RecordWriter::Apply(const Record& in, ConflictPolicy policy,
                                        BodyForm body_form) {
  BRAID_RETURN_IF_ERROR(Usable());
  // Everything from a peer is checked before anything is written; a
  // receiver that read the record on another thread checked it there.
  if (body_form != BodyForm::kChecked) {
    BRAID_RETURN_IF_ERROR(CheckPeerVersion(in, body_form, store_.max_body_bytes(),
                                           store_.clock().NowMillis(), &body_));
  }
  if (const uint64_t own = in.vv.Get(self_); own > state_.counter) {
    return Status::Conflict(IdentityReusedMessage(self_, own, state_.counter));
  }

  // The record as it is stored: `in` itself unless its body was normalized
  // here (no copy of every record on the path of an initial pull).
  std::optional<Record> normalized;
  if (!in.deleted && body_form == BodyForm::kUnchecked) {
    normalized.emplace(in);
    normalized->body.swap(body_);
  }
  const Record& stored = normalized ? *normalized : in;
  hlc_.Observe(in.hlc);
  ApplyResult result;

  // New to this store (the whole of an initial pull): one insert, no lookup.
  // Tombstones are stored too: a peer with an older live version must not
  // bring the record back.
  BRAID_ASSIGN_OR_RETURN(const int64_t inserted,
                         StoreVersion(std::nullopt, stored, /*if_absent=*/true));
  if (inserted != 0) {
    result.kind = ApplyResult::Kind::kApplied;
    return result;
  }
  Record incoming = normalized ? std::move(*normalized) : in;  // `stored` is not used below
  BRAID_ASSIGN_OR_RETURN(auto prev, rows_->Load(in.collection, in.id));
  if (!prev) return Poison(Status::Internal("record vanished inside a write transaction"));
  const Record& local = prev->record;
  MergeDecision d;
  if (local.partition != in.partition) {
    // Two stores created the same id in different partitions: two records,
    // not versions of one (a partition never changes, or filtered peers
    // would miss writes). Held aside for a person, so the sync goes on.
    spdlog::warn(
        "{}: a peer has it in partition \"{}\", this store in \"{}\"; held aside "
        "(braid conflicts): write one of them under another id",
        Name(in), in.partition, local.partition);
    BRAID_ASSIGN_OR_RETURN(const auto held, rows_->Held(in.collection, in.id));
    bool known = false;
    for (const auto& h : held) known = known || in.vv.IsIncludedIn(h.vv);
    if (known) {
      result.kind = ApplyResult::Kind::kIgnored;
      return result;
    }
    BRAID_RETURN_IF_ERROR(DropDominatedHeld(in.collection, in.id, in.vv));
    d.kind = MergeDecision::Kind::kHold;
    d.conflict = true;
  } else {
    BRAID_ASSIGN_OR_RETURN(d, Merge(local, incoming, policy));
  }
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
      BRAID_RETURN_IF_ERROR(StoreVersion(prev, incoming).status());
      result.kind = ApplyResult::Kind::kApplied;
      return result;
    }
    case MergeDecision::Kind::kKeepLocal: {
      result.kind = ApplyResult::Kind::kKept;
      if (d.vv == local.vv) return result;
      Record next = local;
      next.vv = d.vv;
      BRAID_RETURN_IF_ERROR(StoreVersion(prev, next).status());
      return result;
    }
    case MergeDecision::Kind::kNewVersion: {
      Record next = local;
      const uint64_t counter = state_.counter + 1;
      next.version = {self_, counter};
      // Not a new write: it sorts where the versions it merged do (merge.cc).
      next.hlc = std::max(local.hlc, in.hlc);
      StoreContent(d.content, &next);
      next.vv = d.vv;
      next.vv.Set(self_, counter);
      BRAID_RETURN_IF_ERROR(StoreVersion(prev, next).status());
      state_.counter = counter;
      result.kind = ApplyResult::Kind::kMerged;
      return result;
    }
    case MergeDecision::Kind::kHold: {
      BRAID_RETURN_IF_ERROR(Poison(rows_->Hold(incoming, WireRecordJson(incoming))));
      result.kind = ApplyResult::Kind::kHeld;
      return result;
    }
  }
  return Status::Internal("unknown merge decision");
}

Status RecordWriter::DropDominatedHeld(std::string_view collection, std::string_view id,
                                       const VersionVector& vv) {
  BRAID_ASSIGN_OR_RETURN(const auto held, rows_->Held(collection, id));
  for (const auto& h : held) {
    if (!h.vv.IsIncludedIn(vv)) continue;
    BRAID_RETURN_IF_ERROR(Poison(rows_->Unhold(collection, id, h.version)));
  }
  return Status::OK();
}

// A held version is not in this store's records or version streams, so
// the FSIC must not claim its writes: peers that trust this store's FSIC
// would never get them from anyone. Per instance, the cap is one below the
// lowest write a held version has and the stored record lacks. Held
// versions await a person, so there are few; until they are resolved, the
// origins they cap are streamed again from the cap (and ignored).
Result<std::map<InstanceId, uint64_t>> RecordWriter::HeldCaps() {
  std::map<InstanceId, uint64_t> caps;
  BRAID_ASSIGN_OR_RETURN(const auto names, rows_->HeldNames());
  for (const auto& [collection, id] : names) {
    BRAID_ASSIGN_OR_RETURN(const auto held, rows_->Held(collection, id));
    BRAID_ASSIGN_OR_RETURN(const auto local, rows_->Load(collection, id));
    for (const Record& h : held) {
      for (const auto& [origin, counter] : h.vv.entries()) {
        if (local && local->record.vv.Get(origin) >= counter) continue;
        auto [it, added] = caps.emplace(origin, counter - 1);
        if (!added) it->second = std::min(it->second, counter - 1);
      }
    }
  }
  return caps;
}

Status RecordWriter::AdvanceFsic(const std::vector<std::string>& prefixes,
                                 const std::vector<std::pair<InstanceId, uint64_t>>& claimed) {
  BRAID_RETURN_IF_ERROR(Usable());
  for (const auto& p : prefixes) {
    if (!p.empty()) BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("filter"));
  }
  BRAID_ASSIGN_OR_RETURN(const auto caps, HeldCaps());
  BRAID_ASSIGN_OR_RETURN(const auto floors, FloorCaps());
  for (auto [id, counter] : claimed) {
    if (id == self_) continue;  // own writes are always complete
    if (auto cap = caps.find(id); cap != caps.end()) counter = std::min(counter, cap->second);
    if (auto cap = floors.find(id); cap != floors.end()) counter = std::min(counter, cap->second);
    if (counter == 0) continue;
    for (const auto& p : prefixes) BRAID_RETURN_IF_ERROR(Poison(rows_->RaiseFsic(p, id, counter)));
  }
  return Status::OK();
}

Result<WriteResult> RecordWriter::Resolve(std::string_view collection, std::string_view id,
                                          std::optional<std::string_view> body) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  BRAID_RETURN_IF_ERROR(ValidateRecordId(id));
  BRAID_RETURN_IF_ERROR(CheckWritable(collection));
  if (body) BRAID_RETURN_IF_ERROR(NormalizeBody(*body, store_.max_body_bytes(), &body_));
  BRAID_ASSIGN_OR_RETURN(auto prev, rows_->Load(collection, id));
  const std::string name = std::string(collection) + "/" + std::string(id);
  if (!prev) return Status::NotFound("record " + name + " does not exist");
  BRAID_ASSIGN_OR_RETURN(const auto held, rows_->Held(collection, id));
  if (prev->record.conflicts.empty() && held.empty()) {
    return Status::NotFound("record " + name + " has no conflicts to resolve");
  }
  // The resolution dominates every version it chose from, so it replaces
  // them on every replica it reaches.
  VersionVector vv = prev->record.vv;
  for (const auto& h : held) vv.MergeFrom(h.vv);
  Record next = prev->record;
  next.conflicts.clear();
  const uint64_t counter = state_.counter + 1;
  if (body) {
    // As a put: attachments change only through the attachments layer.
    BRAID_RETURN_IF_ERROR(KeepAttachments(&prev->record));
    const FieldWrite write{hlc_.Now(), self_, counter};
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
    next.version = {self_, counter};
    StoreContent(content, &next);
    next.body = prev->record.deleted ? "{}" : prev->record.body;  // keep the body's own order
  }
  next.version = {self_, counter};
  vv.Set(self_, counter);
  next.vv = vv;
  BRAID_RETURN_IF_ERROR(StoreVersion(prev, next).status());
  state_.counter = counter;
  BRAID_RETURN_IF_ERROR(Poison(rows_->UnholdAll(collection, id)));
  return MakeResult(prev->record.deleted && next.deleted ? WriteOp::kDeleted
                    : prev->record.deleted               ? WriteOp::kCreated
                                                         : WriteOp::kUpdated,
                    state_.seq, std::move(next));
}

}  // namespace braid
