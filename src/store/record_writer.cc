// RecordWriter: local puts and deletes, storing versions, settings and the
// commit (record_writer.h explains the design).

#include "store/record_writer.h"

#include "base/json.h"
#include "base/validate.h"
#include "store/attachment_list.h"
#include "store/content.h"

namespace braid {

RecordWriter::RecordWriter(const Store& store, std::unique_ptr<RowTransaction> rows)
    : store_(store),
      self_(store.instance_id()),
      rows_(std::move(rows)),
      state_(rows_->counters()),
      hlc_(store.clock(), state_.hlc) {}

Status RecordWriter::Usable() const {
  if (done_) return Status::Internal("write transaction used after Commit()");
  if (poisoned_) {
    return Status::Internal("write transaction used after a failed write; abort it");
  }
  return Status::OK();
}

WriteResult RecordWriter::MakeResult(WriteOp op, uint64_t seq, Record record) const {
  WriteResult r;
  r.op = op;
  r.seq = seq;
  r.record = std::move(record);
  return r;
}

Status RecordWriter::LogChange(int64_t rid, ChangeOp op, std::string_view collection,
                               const std::optional<std::string>& parent) {
  const uint64_t seq = state_.seq + 1;
  // This store's HLC, never the record's (a peer's version carries the
  // peer's time): it never decreases, so `at` is ordered like seq and
  // compaction can find its horizon by binary search.
  BRAID_RETURN_IF_ERROR(
      Poison(rows_->LogChange(seq, rid, op, collection, parent, hlc::Millis(hlc_.last()))));
  state_.seq = seq;
  return Status::OK();
}

Result<int64_t> RecordWriter::StoreVersion(const std::optional<StoredRecord>& prev,
                                           const Record& next, bool if_absent) {
  int64_t rid;
  if (prev) {
    rid = prev->rid;
    BRAID_RETURN_IF_ERROR(Poison(rows_->Update(rid, next)));
  } else {
    auto inserted = rows_->Insert(next, if_absent);
    if (!inserted.ok()) return Poison(inserted.status());
    if (*inserted == 0) return int64_t{0};
    rid = *inserted;
  }
  BRAID_RETURN_IF_ERROR(
      IndexAttachments(rid, prev && !prev->record.deleted ? prev->record.body : "", next));

  // Versions entries: one per new version-vector entry. Entries the new
  // vector supersedes stay, stale (StreamedVersion), for compaction to
  // purge: deleting them now would cost a random page write per update.
  static const VersionVector kNone;
  const VersionVector& old_vv = prev ? prev->record.vv : kNone;
  for (const auto& [origin, counter] : next.vv.entries()) {
    if (old_vv.Get(origin) != counter) {
      BRAID_RETURN_IF_ERROR(Poison(rows_->AddVersion(origin, counter, rid)));
    }
  }

  // Change log: what a delta client sees change.
  const bool was_live = prev && !prev->record.deleted;
  if (!next.deleted && !was_live) {
    BRAID_RETURN_IF_ERROR(LogChange(rid, ChangeOp::kCreate, next.collection, next.parent));
  } else if (next.deleted && was_live) {
    BRAID_RETURN_IF_ERROR(LogChange(rid, ChangeOp::kDelete, next.collection, prev->record.parent));
  } else if (!next.deleted && was_live) {
    const Record& p = prev->record;
    if (p.parent != next.parent) {
      // Moving to another parent: the old parent's feed sees the item leave,
      // the new parent's feed sees it arrive.
      BRAID_RETURN_IF_ERROR(LogChange(rid, ChangeOp::kDelete, next.collection, p.parent));
      BRAID_RETURN_IF_ERROR(LogChange(rid, ChangeOp::kCreate, next.collection, next.parent));
    } else if (p.body != next.body || p.conflicts != next.conflicts ||
               !(p.version == next.version)) {
      BRAID_RETURN_IF_ERROR(LogChange(rid, ChangeOp::kUpdate, next.collection, next.parent));
    }
  }
  return rid;
}

Result<WriteResult> RecordWriter::WriteLocal(const StoredRecord& prev, Record next) {
  const uint64_t counter = state_.counter + 1;
  next.version = {self_, counter};
  next.hlc = hlc_.Now();
  next.vv.Set(self_, counter);
  BRAID_RETURN_IF_ERROR(StoreVersion(prev, next).status());
  state_.counter = counter;
  const WriteOp op = next.deleted          ? WriteOp::kDeleted
                     : prev.record.deleted ? WriteOp::kCreated
                                           : WriteOp::kUpdated;
  return MakeResult(op, state_.seq, std::move(next));
}

Status RecordWriter::KeepAttachments(const Record* stored) {
  const std::string_view kept =
      stored != nullptr && !stored->deleted ? AttachmentsMember(stored->body) : std::string_view();
  const std::string_view given = AttachmentsMember(body_);
  if (!given.empty()) {
    if (given == kept) return Status::OK();
    return Status::Conflict(
        "the body's \"_attachments\" differ from the record's: attachments change only "
        "through .../attachments/NAME (braid attach, braid detach); send the body without "
        "\"_attachments\" to keep them, or read the record again");
  }
  if (kept.empty()) return Status::OK();
  body_.pop_back();  // '}'
  if (body_.size() > 1) body_ += ',';
  json::AppendQuoted(&body_, kAttachmentsField);
  body_ += ':';
  body_.append(kept);
  body_ += '}';
  return Status::OK();
}

Status RecordWriter::IndexAttachments(int64_t rid, std::string_view before, const Record& after) {
  const std::string_view was = AttachmentsMember(before);
  const std::string_view now = after.deleted ? std::string_view() : AttachmentsMember(after.body);
  if (was == now) return Status::OK();
  // Peers' lists were checked (CheckPeerVersion) and local writes make
  // canonical ones; a malformed list stored before schema 5 names nothing.
  auto list = ParseAttachments(after.deleted ? std::string_view("{}") : after.body);
  if (!list.ok()) list = std::vector<Attachment>();
  return Poison(rows_->SetBlobRefs(rid, !was.empty(), *list));
}

Result<WriteResult> RecordWriter::Put(const PutRequest& req) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(req.collection));
  BRAID_RETURN_IF_ERROR(ValidateRecordId(req.id));
  if (req.partition) BRAID_RETURN_IF_ERROR(ValidatePartition(*req.partition));
  if (req.parent_mode == PutRequest::ParentMode::kSet) {
    BRAID_RETURN_IF_ERROR(ValidateParent(req.parent));
  }
  BRAID_RETURN_IF_ERROR(CheckWritable(req.collection));
  BRAID_RETURN_IF_ERROR(NormalizeBody(req.body, store_.max_body_bytes(), &body_));
  std::optional<std::string> parent;
  if (req.parent_mode == PutRequest::ParentMode::kSet) parent.emplace(req.parent);
  const bool keep_attachments = req.attachments == PutRequest::AttachmentsMode::kKeep;
  const bool gives_attachments = keep_attachments && !AttachmentsMember(body_).empty();

  // Fast path: a new record, inserted without a lookup. The insert does
  // nothing when (collection, id) exists; the record is then updated. A
  // body that names attachments must match a stored record's: no fast path.
  if (!gives_attachments) {
    const uint64_t counter = state_.counter + 1;
    Record rec;
    rec.collection.assign(req.collection);
    rec.id.assign(req.id);
    rec.partition.assign(req.partition ? *req.partition : req.collection);
    rec.parent = parent;
    rec.version = {self_, counter};
    rec.vv.Set(self_, counter);
    rec.hlc = hlc_.Now();
    rec.body.swap(body_);
    auto inserted = rows_->Insert(rec, /*if_absent=*/true);
    if (!inserted.ok()) return Poison(inserted.status());
    if (*inserted != 0) {
      state_.counter = counter;
      BRAID_RETURN_IF_ERROR(Poison(rows_->AddVersion(self_, counter, *inserted)));
      BRAID_RETURN_IF_ERROR(IndexAttachments(*inserted, "", rec));
      BRAID_RETURN_IF_ERROR(LogChange(*inserted, ChangeOp::kCreate, rec.collection, rec.parent));
      return MakeResult(WriteOp::kCreated, state_.seq, std::move(rec));
    }
    body_.swap(rec.body);
  }

  BRAID_ASSIGN_OR_RETURN(auto prev, rows_->Load(req.collection, req.id));
  if (keep_attachments) BRAID_RETURN_IF_ERROR(KeepAttachments(prev ? &prev->record : nullptr));
  if (!prev) return Poison(Status::Internal("record vanished inside a write transaction"));
  const Record& old = prev->record;
  if (req.partition && *req.partition != old.partition) {
    return Status::Conflict("record " + std::string(req.collection) + "/" + std::string(req.id) +
                            " is in partition \"" + old.partition +
                            "\"; a record's partition cannot change");
  }
  if (req.parent_mode == PutRequest::ParentMode::kKeep) parent = old.parent;
  if (!old.deleted && old.body == body_ && old.parent == parent) {
    return MakeResult(WriteOp::kUnchanged, 0, std::move(prev->record));
  }
  Record next = old;
  next.deleted = false;
  next.parent = std::move(parent);
  // The clocks are relative to the new version's write: (hlc, self, counter).
  const uint64_t counter = state_.counter + 1;
  const FieldWrite write{hlc_.Now(), self_, counter};
  BRAID_ASSIGN_OR_RETURN(const Content content, ContentAfterPut(old, body_, write));
  next.body = body_;
  next.field_clocks = ClocksFor(content, write);
  next.conflicts = ConflictsText(content);
  next.version = {self_, counter};
  next.hlc = write.hlc;
  next.vv.Set(self_, counter);
  BRAID_RETURN_IF_ERROR(StoreVersion(prev, next).status());
  state_.counter = counter;
  return MakeResult(old.deleted ? WriteOp::kCreated : WriteOp::kUpdated, state_.seq,
                    std::move(next));
}

Result<WriteResult> RecordWriter::Delete(std::string_view collection, std::string_view id) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  BRAID_RETURN_IF_ERROR(ValidateRecordId(id));
  BRAID_RETURN_IF_ERROR(CheckWritable(collection));
  BRAID_ASSIGN_OR_RETURN(auto prev, rows_->Load(collection, id));
  if (!prev) {
    return Status::NotFound("record " + std::string(collection) + "/" + std::string(id) +
                            " does not exist");
  }
  if (prev->record.deleted) return MakeResult(WriteOp::kUnchanged, 0, std::move(prev->record));
  Record next = prev->record;
  next.deleted = true;
  next.body = "{}";
  next.field_clocks.clear();
  return WriteLocal(*prev, std::move(next));
}

Status RecordWriter::SetPolicy(std::string_view collection, ConflictPolicy policy) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  return Poison(rows_->PutPolicy(collection, policy));
}

Status RecordWriter::SetSearchFields(std::string_view collection,
                                     std::optional<std::string_view> spec) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  if (spec && (spec->empty() || spec->size() > kMaxSearchFieldsBytes)) {
    return Status::InvalidArgument("search fields of " + std::string(collection) +
                                   ": empty, or longer than " +
                                   std::to_string(kMaxSearchFieldsBytes) + " bytes");
  }
  return Poison(rows_->PutSearchFields(collection, spec));
}

Status RecordWriter::RecordSync(std::string_view remote, int64_t at_ms, std::string_view result) {
  BRAID_RETURN_IF_ERROR(Usable());
  return Poison(rows_->RecordSync(remote, at_ms, result));
}

Status RecordWriter::CreateToken(const TokenInfo& info, std::string_view sha256) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(info.name).WithContext("token name"));
  for (const auto& p : info.scope) {
    BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("token scope"));
  }
  if (sha256.size() != 32) return Status::InvalidArgument("a token hash is 32 bytes");
  TokenInfo row = info;
  row.created_ms = store_.clock().NowMillis();
  auto created = rows_->CreateToken(row, sha256);
  if (!created.ok()) return Poison(created.status());
  if (!*created) {
    return Status::AlreadyExists("a token named \"" + info.name +
                                 "\" exists; revoke it first or pick another name");
  }
  return Status::OK();
}

Status RecordWriter::PutUser(const User& user) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateUser(user));
  User row = user;
  row.created_ms = store_.clock().NowMillis();
  return Poison(rows_->PutUser(row));
}

Status RecordWriter::PutCertificate(const CertificateRow& cert) {
  BRAID_RETURN_IF_ERROR(Usable());
  CertificateRow row = cert;
  row.stored_ms = store_.clock().NowMillis();
  return Poison(rows_->PutCertificate(row));
}

Status RecordWriter::PutRevocation(const RevocationRow& revocation) {
  BRAID_RETURN_IF_ERROR(Usable());
  RevocationRow row = revocation;
  row.stored_ms = store_.clock().NowMillis();
  return Poison(rows_->PutRevocation(row));
}

Status RecordWriter::RecordStep(const StepRun& run) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(run.step).WithContext("step name"));
  return Poison(rows_->RecordStep(run));
}

Status RecordWriter::ForgetDroppedBlobs(const std::vector<std::string>& sha256s) {
  BRAID_RETURN_IF_ERROR(Usable());
  for (const auto& sha : sha256s) {
    if (!IsSha256Hex(sha)) return Status::InvalidArgument("not a SHA-256: " + sha.substr(0, 80));
  }
  return Poison(rows_->ForgetDroppedBlobs(sha256s));
}

Status RecordWriter::DeleteUser(std::string_view name) {
  BRAID_RETURN_IF_ERROR(Usable());
  auto deleted = rows_->DeleteUser(name);
  if (!deleted.ok()) return Poison(deleted.status());
  if (!*deleted) return Status::NotFound("no user named \"" + std::string(name) + "\"");
  return Status::OK();
}

Status RecordWriter::RevokeToken(std::string_view name) {
  BRAID_RETURN_IF_ERROR(Usable());
  auto revoked = rows_->RevokeToken(name);
  if (!revoked.ok()) return Poison(revoked.status());
  if (!*revoked) return Status::NotFound("no token named \"" + std::string(name) + "\"");
  return Status::OK();
}

// Sessions and challenges are written by the replication server, not by
// users; the checks keep a bug there from storing rows no reader can use.
Status RecordWriter::PutSyncSession(const SyncSessionRow& session) {
  BRAID_RETURN_IF_ERROR(Usable());
  if (!IsSha256Hex(session.key)) {
    return Status::InvalidArgument("a session's key must be 64 lowercase hex digits");
  }
  if (session.owner.empty()) return Status::InvalidArgument("a session needs its owner");
  if (session.chunk_size < 1 || session.chunk_size > kMaxChunkSize) {
    return Status::InvalidArgument("a session's chunk size must be 1 to " +
                                   std::to_string(kMaxChunkSize));
  }
  for (size_t i = 1; i < session.ends.size(); ++i) {
    if (!(session.ends[i - 1].first < session.ends[i].first)) {
      return Status::InvalidArgument("a session's stream ends must be in instance-id order");
    }
  }
  auto added = rows_->PutSyncSession(session);
  if (!added.ok()) return Poison(added.status());
  if (!*added) return Status::AlreadyExists("a session of that id exists already");
  return Status::OK();
}

Status RecordWriter::TouchSyncSession(std::string_view key, int64_t used_ms) {
  BRAID_RETURN_IF_ERROR(Usable());
  return Poison(rows_->TouchSyncSession(key, used_ms));
}

Status RecordWriter::DeleteSyncSession(std::string_view key) {
  BRAID_RETURN_IF_ERROR(Usable());
  return Poison(rows_->DeleteSyncSession(key));
}

Result<uint64_t> RecordWriter::ExpireSyncSessions(int64_t used_before_ms, size_t keep) {
  BRAID_RETURN_IF_ERROR(Usable());
  auto n = rows_->ExpireSyncSessions(used_before_ms, keep);
  if (!n.ok()) return Poison(n.status());
  return n;
}

Status RecordWriter::PutChallenge(const ChallengeRow& challenge) {
  BRAID_RETURN_IF_ERROR(Usable());
  if (!IsMd5Hex(challenge.id)) {  // the same form: 32 lowercase hex digits
    return Status::InvalidArgument("a challenge's id must be 32 lowercase hex digits");
  }
  if (challenge.server_nonce.empty() || challenge.client_nonce.empty()) {
    return Status::InvalidArgument("a challenge needs both nonces");
  }
  auto added = rows_->PutChallenge(challenge);
  if (!added.ok()) return Poison(added.status());
  if (!*added) return Status::AlreadyExists("a challenge of that id exists already");
  return Status::OK();
}

Result<std::optional<ChallengeRow>> RecordWriter::TakeChallenge(std::string_view id) {
  BRAID_RETURN_IF_ERROR(Usable());
  auto taken = rows_->TakeChallenge(id);
  if (!taken.ok()) return Poison(taken.status());
  return taken;
}

Result<uint64_t> RecordWriter::ExpireChallenges(int64_t made_before_ms, size_t keep) {
  BRAID_RETURN_IF_ERROR(Usable());
  auto n = rows_->ExpireChallenges(made_before_ms, keep);
  if (!n.ok()) return Poison(n.status());
  return n;
}

Status RecordWriter::Commit() {
  BRAID_RETURN_IF_ERROR(Usable());
  state_.hlc = hlc_.last();
  const Status s = rows_->Commit(state_);
  done_ = true;
  rows_.reset();  // releases the write lock (rolled back if the commit failed)
  return s.ok() ? s : s.WithContext("committing");
}

}  // namespace braid
