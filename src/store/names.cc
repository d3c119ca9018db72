#include "base/validate.h"
#include "braid/catalog.h"
#include "braid/record.h"
#include "braid/store.h"

namespace braid {

Result<ChangePage> LogHead(Store& store) {
  ChangeQuery q;
  q.after_seq = uint64_t{1} << 62;  // past any seq: no event to read
  q.limit = 1;
  q.with_records = false;
  return store.ReadChanges(q);
}

size_t RecordBytes(const Record& r) {
  return r.collection.size() + r.id.size() + r.partition.size() +
         (r.parent ? r.parent->size() : 0) + r.field_clocks.size() + r.body.size() +
         r.conflicts.size();
}

std::string_view WriteOpName(WriteOp op) {
  switch (op) {
    case WriteOp::kCreated:
      return "created";
    case WriteOp::kUpdated:
      return "updated";
    case WriteOp::kDeleted:
      return "deleted";
    case WriteOp::kUnchanged:
      return "unchanged";
  }
  return "unknown";
}

std::string_view ChangeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate:
      return "create";
    case ChangeOp::kUpdate:
      return "update";
    case ChangeOp::kDelete:
      return "delete";
  }
  return "unknown";
}

}  // namespace braid

namespace braid {

std::string_view PolicyName(ConflictPolicy p) {
  switch (p) {
    case ConflictPolicy::kMerge:
      return "merge";
    case ConflictPolicy::kLww:
      return "lww";
    case ConflictPolicy::kSkip:
      return "skip";
    case ConflictPolicy::kRemoteWins:
      return "remote-wins";
    case ConflictPolicy::kLocalWins:
      return "local-wins";
  }
  return "merge";
}

Result<ConflictPolicy> ParsePolicy(std::string_view name) {
  for (auto p : {ConflictPolicy::kMerge, ConflictPolicy::kLww, ConflictPolicy::kSkip,
                 ConflictPolicy::kRemoteWins, ConflictPolicy::kLocalWins}) {
    if (PolicyName(p) == name) return p;
  }
  return Status::InvalidArgument("unknown conflict policy \"" + std::string(name) +
                                 "\"; use merge, lww, skip, remote-wins or local-wins");
}

std::string_view DirectionName(Direction d) {
  switch (d) {
    case Direction::kPull:
      return "pull";
    case Direction::kPush:
      return "push";
    case Direction::kBoth:
      return "both";
  }
  return "both";
}

Result<Direction> ParseDirection(std::string_view name) {
  for (auto d : {Direction::kPull, Direction::kPush, Direction::kBoth}) {
    if (DirectionName(d) == name) return d;
  }
  return Status::InvalidArgument("unknown direction \"" + std::string(name) +
                                 "\"; use pull, push or both");
}

std::string IdentityReusedMessage(const InstanceId& self, uint64_t seen, uint64_t counter) {
  return "the peer has writes of this instance (" + self.Hex() + ") up to " + std::to_string(seen) +
         ", but this store has issued only " + std::to_string(counter) +
         ": it was restored from an older copy. Stop braid serve and run `braid identity renew` "
         "so that new writes do not reuse those names; the writes it lost then come back from "
         "its peers";
}

// remote_rules.cc
Status ValidateRemoteRules(const Remote& remote);

Status ValidateRemote(const Remote& r) {
  BRAID_RETURN_IF_ERROR(ValidateCollection(r.name).WithContext("remote name"));
  if (r.url.rfind("http://", 0) != 0 && r.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("remote \"" + r.name + "\": the URL must start with http:// " +
                                   "or https:// (got \"" + r.url + "\")");
  }
  for (const auto& p : r.filter) {
    BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("remote \"" + r.name + "\" filter"));
  }
  if (r.chunk_size < 1 || r.chunk_size > kMaxChunkSize) {
    return Status::InvalidArgument("chunk size must be between 1 and " +
                                   std::to_string(kMaxChunkSize));
  }
  if (!r.user.empty()) {
    BRAID_RETURN_IF_ERROR(ValidateCollection(r.user).WithContext("remote \"" + r.name + "\" user"));
  }
  if (!r.ca_cert.empty() && r.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("remote \"" + r.name +
                                   "\": a CA certificate is for https:// URLs only");
  }
  return ValidateRemoteRules(r);
}

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kReader:
      return "reader";
    case Role::kWriter:
      return "writer";
    case Role::kAdmin:
      return "admin";
  }
  return "reader";
}

Result<Role> ParseRole(std::string_view name) {
  for (auto r : {Role::kReader, Role::kWriter, Role::kAdmin}) {
    if (RoleName(r) == name) return r;
  }
  return Status::InvalidArgument("unknown role \"" + std::string(name) +
                                 "\"; use admin, writer or reader");
}

bool InScope(const Scope& scope, std::string_view partition) {
  if (scope.empty()) return true;
  for (const auto& p : scope) {
    if (PartitionCovers(p, partition)) return true;
  }
  return false;
}

bool ScopeWithin(const Scope& inner, const Scope& outer) {
  if (outer.empty()) return true;
  if (inner.empty()) return false;
  // A prefix lies within `outer` when a prefix of `outer` covers it: every
  // partition under it is then under that one too.
  for (const auto& p : inner) {
    if (!InScope(outer, p)) return false;
  }
  return true;
}

Status ValidateUser(const User& u) {
  BRAID_RETURN_IF_ERROR(ValidateCollection(u.name).WithContext("user name"));
  for (const auto& p : u.scope) {
    BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("user \"" + u.name + "\" scope"));
  }
  if (u.password_hash.empty()) {
    return Status::InvalidArgument("user \"" + u.name + "\" needs a password");
  }
  return Status::OK();
}

}  // namespace braid
