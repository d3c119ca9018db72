// The writes of remotes and of what their rules keep (docs/remotes.md):
// remotes, their marks and floors, collection references, and the
// read-only check of local writes.

#include <algorithm>

#include "base/validate.h"
#include "store/record_writer.h"

namespace braid {
namespace {

// What a remote's sessions carry, as far as its marks are concerned: when
// any of it changes, the positions the marks keep mean nothing any more.
bool SameStream(const Remote& a, const Remote& b) {
  const RemoteRules &x = a.rules, &y = b.rules;
  return a.url == b.url && a.filter == b.filter && a.direction == b.direction &&
         x.prefix == y.prefix && x.local_prefix == y.local_prefix && x.include == y.include &&
         x.skip == y.skip && x.prefixable == y.prefixable && x.update_only == y.update_only;
}

}  // namespace

Status RecordWriter::SetReferences(std::string_view collection,
                                   const std::vector<Reference>& refs) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  for (const auto& r : refs) {
    BRAID_RETURN_IF_ERROR(ParseReference(ReferenceSpec(r)).status());
  }
  return Poison(rows_->PutReferences(collection, refs));
}

Status RecordWriter::PutRemote(const Remote& remote) {
  BRAID_RETURN_IF_ERROR(Usable());
  BRAID_RETURN_IF_ERROR(ValidateRemote(remote));
  BRAID_ASSIGN_OR_RETURN(const auto remotes, rows_->Remotes());
  auto old = std::find_if(remotes.begin(), remotes.end(),
                          [&](const Remote& r) { return r.name == remote.name; });
  if (old != remotes.end() && (!SameStream(*old, remote) || !remote.rules.ShapesStream())) {
    BRAID_RETURN_IF_ERROR(Poison(rows_->DeleteRuleMarks(remote.name)));
  }
  read_only_.reset();
  return Poison(rows_->PutRemote(remote));
}

Status RecordWriter::DeleteRemote(std::string_view name) {
  BRAID_RETURN_IF_ERROR(Usable());
  auto deleted = rows_->DeleteRemote(name);
  if (!deleted.ok()) return Poison(deleted.status());
  if (!*deleted) return Status::NotFound("no remote named \"" + std::string(name) + "\"");
  read_only_.reset();
  return Poison(rows_->DeleteRuleMarks(name));
}

Status RecordWriter::ScheduleSync(std::string_view remote, int64_t failures, int64_t next_ms) {
  BRAID_RETURN_IF_ERROR(Usable());
  return Poison(rows_->ScheduleSync(remote, failures, next_ms));
}

Status RecordWriter::MoveMarks(std::string_view remote, MarkKind kind,
                               const std::vector<std::pair<InstanceId, uint64_t>>& counters) {
  BRAID_RETURN_IF_ERROR(Usable());
  if (counters.empty()) return Status::OK();
  const std::string_view name = MarkKindName(kind);
  const bool up = kind == MarkKind::kPull || kind == MarkKind::kPush;
  BRAID_ASSIGN_OR_RETURN(const auto marks, rows_->RuleMarks(name));
  for (const auto& entry : counters) {
    const InstanceId& origin = entry.first;
    const uint64_t counter = entry.second;
    if (origin == self_ && kind == MarkKind::kPullFloor) continue;  // own writes are all here
    RuleMark m{std::string(remote), std::string(name), origin, counter};
    auto it = std::find_if(marks.begin(), marks.end(), [&](const RuleMark& x) {
      return x.remote == remote && x.origin == origin;
    });
    if (it != marks.end() && (up ? it->counter >= counter : it->counter <= counter)) continue;
    BRAID_RETURN_IF_ERROR(Poison(rows_->PutRuleMark(m)));
  }
  return Status::OK();
}

Status RecordWriter::LiftPullFloors(const std::vector<std::pair<InstanceId, uint64_t>>& delivered) {
  BRAID_RETURN_IF_ERROR(Usable());
  const std::string_view name = MarkKindName(MarkKind::kPullFloor);
  BRAID_ASSIGN_OR_RETURN(const auto floors, rows_->RuleMarks(name));
  for (const RuleMark& f : floors) {
    for (const auto& [origin, counter] : delivered) {
      if (origin == f.origin && f.counter <= counter) {
        BRAID_RETURN_IF_ERROR(Poison(rows_->DeleteRuleMark(f.remote, name, f.origin)));
      }
    }
  }
  return Status::OK();
}

Result<std::map<InstanceId, uint64_t>> RecordWriter::FloorCaps() {
  std::map<InstanceId, uint64_t> caps;
  BRAID_ASSIGN_OR_RETURN(const auto floors, rows_->RuleMarks(MarkKindName(MarkKind::kPullFloor)));
  for (const RuleMark& f : floors) {
    auto [it, added] = caps.emplace(f.origin, f.counter - 1);
    if (!added) it->second = std::min(it->second, f.counter - 1);
  }
  return caps;
}

Status RecordWriter::CheckWritable(std::string_view collection) {
  if (!read_only_) {
    BRAID_ASSIGN_OR_RETURN(const auto remotes, rows_->Remotes());
    read_only_.emplace();
    for (const Remote& r : remotes) {
      for (const auto& c : r.rules.read_only) read_only_->emplace(c, r.name);
    }
  }
  auto it = read_only_->find(collection);
  if (it == read_only_->end()) return Status::OK();
  return Status::ReadOnly("collection \"" + std::string(collection) +
                          "\" is read-only here: " + "its records come from remote \"" +
                          it->second + "\" (--read-only); change them there");
}

}  // namespace braid
