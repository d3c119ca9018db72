#include "store/wire.h"

#include <charconv>
#include <cstdint>
#include <vector>

#include "base/validate.h"
#include "braid/hlc.h"
#include "store/attachment_list.h"
#include "store/content.h"

namespace braid {

namespace {

// An instance id's 32 hex digits, and ":<counter>" after them for a
// version, written into a buffer rather than a fresh string: a chunk
// writes several per record.
class IdText {
 public:
  explicit IdText(const InstanceId& id) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < id.bytes.size(); ++i) {
      buf_[2 * i] = kHex[id.bytes[i] >> 4];
      buf_[2 * i + 1] = kHex[id.bytes[i] & 0xF];
    }
    size_ = 32;
  }
  IdText(const InstanceId& id, uint64_t counter) : IdText(id) {
    buf_[size_++] = ':';
    size_ =
        static_cast<size_t>(std::to_chars(buf_ + size_, buf_ + sizeof buf_, counter).ptr - buf_);
  }
  std::string_view view() const { return {buf_, size_}; }

 private:
  char buf_[64];
  size_t size_;
};

}  // namespace

void WriteWireRecord(json::Writer& w, const WireFields& f) {
  w.BeginObject()
      .Key("collection")
      .String(f.collection)
      .Key("id")
      .String(f.id)
      .Key("partition")
      .String(f.partition);
  if (f.parent) {
    w.Key("parent").String(*f.parent);
  } else {
    w.Key("parent").Null();
  }
  w.Key("deleted")
      .Bool(f.deleted)
      .Key("version")
      .String(IdText(f.version.origin, f.version.counter).view())
      .Key("hlc")
      .Uint(f.hlc);
  if (f.vv != nullptr &&
      !(f.vv->entries().size() == 1 && f.vv->entries()[0].first == f.version.origin &&
        f.vv->entries()[0].second == f.version.counter)) {
    w.Key("vv").BeginObject();
    for (const auto& [id, counter] : f.vv->entries()) w.Key(IdText(id).view()).Uint(counter);
    w.EndObject();
  }
  if (!f.field_clocks.empty()) w.Key("clocks").Raw(f.field_clocks);
  if (!f.conflicts.empty()) w.Key("conflicts").Raw(f.conflicts);
  w.Key("body").Raw(f.body).EndObject();
}

void WriteWireRecord(json::Writer& w, const Record& r) {
  WireFields f;
  f.collection = r.collection;
  f.id = r.id;
  f.partition = r.partition;
  if (r.parent) f.parent = *r.parent;
  f.deleted = r.deleted;
  f.version = r.version;
  f.hlc = r.hlc;
  f.vv = &r.vv;
  f.field_clocks = r.field_clocks;
  f.body = r.body;
  f.conflicts = r.conflicts;
  WriteWireRecord(w, f);
}

std::string WireRecordJson(const Record& r) {
  std::string out;
  json::Writer w(&out);
  WriteWireRecord(w, r);
  return out;
}

Result<Version> ParseVersion(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("version must be \"<instance hex>:<counter>\"");
  }
  BRAID_ASSIGN_OR_RETURN(const InstanceId origin, InstanceId::FromHex(text.substr(0, colon)));
  const std::string_view digits = text.substr(colon + 1);
  uint64_t counter = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), counter);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || counter == 0 ||
      counter > static_cast<uint64_t>(INT64_MAX)) {
    return Status::InvalidArgument("version counter must be an integer from 1 to 2^63-1");
  }
  return Version{origin, counter};
}

namespace {

// A record being read member by member; ParseWireRecord and ReadWireRecord
// share it so both accept exactly the same members.
class WireRecordParser {
 public:
  Status Member(std::string_view key, const json::Value& value);
  // The body, read by the caller (raw or normalized).
  std::string* body() {
    seen_ |= kBody;
    return &r_.body;
  }
  Result<Record> Finish();

 private:
  static constexpr unsigned kBody = 64u;
  static Status Fail(std::string_view member, std::string_view what) {
    return Status::InvalidArgument("record member \"" + std::string(member) + "\" " +
                                   std::string(what));
  }

  Record r_;
  bool has_vv_ = false;
  unsigned seen_ = 0;  // bit per required member
};

Status WireRecordParser::Member(std::string_view key, const json::Value& value) {
  if (key == "collection" || key == "id" || key == "partition") {
    auto s = value.AsString();
    if (!s) return Fail(key, "must be a string");
    (key == "collection" ? r_.collection : key == "id" ? r_.id : r_.partition) = std::move(*s);
    seen_ |= key == "collection" ? 1u : key == "id" ? 2u : 4u;
  } else if (key == "parent") {
    if (!value.IsNull()) {
      auto s = value.AsString();
      if (!s) return Fail(key, "must be a string or null");
      r_.parent = std::move(*s);
    }
  } else if (key == "deleted") {
    const auto b = value.AsBool();
    if (!b) return Fail(key, "must be true or false");
    r_.deleted = *b;
    seen_ |= 8u;
  } else if (key == "version") {
    const auto s = value.AsString();
    auto ver = s ? ParseVersion(*s) : Result<Version>(Status::InvalidArgument("not a string"));
    if (!ver.ok()) return Fail(key, ver.status().message());
    r_.version = *ver;
    seen_ |= 16u;
  } else if (key == "hlc") {
    const auto h = value.AsInt64();
    if (!h || *h <= 0) return Fail(key, "must be a positive integer");
    r_.hlc = static_cast<uint64_t>(*h);
    seen_ |= 32u;
  } else if (key == "vv") {
    auto vv = VersionVectorFromJson(value.raw());
    if (!vv.ok()) return Fail(key, vv.status().message());
    r_.vv = std::move(*vv);
    has_vv_ = true;
  } else if (key == "clocks") {
    if (!value.IsObject()) return Fail(key, "must be an object");
    r_.field_clocks.assign(value.raw());
  } else if (key == "conflicts") {
    if (!value.IsArray()) return Fail(key, "must be an array");
    r_.conflicts.assign(value.raw());
  } else if (key == "body") {
    if (!value.IsObject()) return Fail(key, "must be a JSON object");
    body()->assign(value.raw());
  } else {
    return Fail(key, "is not a record member");
  }
  return Status::OK();
}

Result<Record> WireRecordParser::Finish() {
  if (seen_ != 127u) {
    return Status::InvalidArgument(
        "a record needs collection, id, partition, deleted, version, hlc and body");
  }
  if (!has_vv_) r_.vv.Set(r_.version.origin, r_.version.counter);
  if (r_.field_clocks == "{}") r_.field_clocks.clear();
  if (r_.conflicts == "[]") r_.conflicts.clear();
  return std::move(r_);
}

}  // namespace

Result<Record> ParseWireRecord(json::Value v) {
  if (!v.IsObject()) return Status::InvalidArgument("a record must be a JSON object");
  WireRecordParser p;
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value value) {
    status = p.Member(key, value);
    return status.ok();
  });
  BRAID_RETURN_IF_ERROR(status);
  return p.Finish();
}

Result<Record> ReadWireRecord(json::Reader& in) {
  BRAID_RETURN_IF_ERROR(in.EnterObject());
  WireRecordParser p;
  // Field names of the body, collected as it is validated; the vector
  // keeps its capacity from one record to the next on this thread.
  thread_local std::vector<std::string_view> fields;
  std::string_view key;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool more, in.NextMember(&key));
    if (!more) break;
    if (key != "body") {
      BRAID_ASSIGN_OR_RETURN(const json::Value value, in.ReadValue());
      BRAID_RETURN_IF_ERROR(p.Member(key, value));
      continue;
    }
    std::string* body = p.body();
    body->clear();
    fields.clear();
    BRAID_ASSIGN_OR_RETURN(const json::Value value, in.ReadValue(body, &fields));
    if (!value.IsObject()) {
      return Status::InvalidArgument("record member \"body\" must be a JSON object");
    }
    BRAID_RETURN_IF_ERROR(CheckBodyFields(fields));
  }
  return p.Finish();
}

namespace {

// A peer whose clock runs further ahead than this would drag every HLC of
// this store with it; its versions are refused instead.
constexpr int64_t kMaxClockDriftMs = 3'600'000;

std::string Name(const Record& r) { return r.collection + "/" + r.id; }

}  // namespace

Status CheckPeerVersion(const Record& in, BodyForm body_form, size_t max_body_bytes, int64_t now_ms,
                        std::string* normalized_body) {
  // The record's name is only spelled out when something is wrong.
  auto named = [&in](Status s) { return s.ok() ? s : s.WithContext(Name(in)); };
  BRAID_RETURN_IF_ERROR(ValidateCollection(in.collection));
  BRAID_RETURN_IF_ERROR(ValidateRecordId(in.id));
  BRAID_RETURN_IF_ERROR(named(ValidatePartition(in.partition)));
  if (in.parent) BRAID_RETURN_IF_ERROR(named(ValidateParent(*in.parent)));
  Status body_status;
  if (in.deleted) {
    if (in.body != "{}") {
      return Status::InvalidArgument(Name(in) + ": a tombstone's body must be {}");
    }
  } else if (body_form == BodyForm::kUnchecked) {
    body_status = NormalizeBody(in.body, max_body_bytes, normalized_body);
  } else if (in.body.size() > max_body_bytes) {
    body_status = Status::PayloadTooLarge("record body is " + std::to_string(in.body.size()) +
                                          " bytes; the limit is " + std::to_string(max_body_bytes));
  }
  if (body_status.code() == Code::kPayloadTooLarge) {
    body_status = Status::PayloadTooLarge(
        body_status.message() +
        " (store.max_record_bytes in braid.toml); a peer with a higher limit wrote it: raise "
        "this instance's limit to the peers' to accept it, or the sync stops here each time");
  }
  BRAID_RETURN_IF_ERROR(named(std::move(body_status)));
  if (!in.deleted) {
    // A list of attachments other peers and the blob index can trust.
    const std::string_view body = body_form == BodyForm::kUnchecked ? *normalized_body : in.body;
    BRAID_RETURN_IF_ERROR(named(ParseAttachments(body).status()));
  }
  if (in.version.counter == 0 || in.version.origin.IsZero() ||
      in.vv.Get(in.version.origin) < in.version.counter) {
    return Status::InvalidArgument(Name(in) + ": version " + in.version.ToString() +
                                   " is not in its version vector");
  }
  if (in.hlc == 0) return Status::InvalidArgument(Name(in) + ": missing HLC");
  const int64_t ahead = hlc::Millis(in.hlc) - now_ms;
  if (ahead > kMaxClockDriftMs) {
    return Status::InvalidArgument(Name(in) + ": the peer's clock is " +
                                   std::to_string(ahead / 60'000) +
                                   " minutes ahead of this one; fix its clock and sync again");
  }
  BRAID_RETURN_IF_ERROR(
      named(ValidateFieldClocks(in.field_clocks, in.deleted, in.vv, now_ms + kMaxClockDriftMs)));
  return named(ValidateConflicts(in.conflicts));
}

}  // namespace braid
