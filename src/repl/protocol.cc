#include "repl/protocol.h"

#include <algorithm>
#include <limits>

#include "base/validate.h"
#include "repl/fields.h"
#include "store/wire.h"

namespace braid::repl {

size_t RampedChunkSize(size_t chunk_size, size_t chunks_sent) {
  size_t size = std::min(chunk_size, kFirstChunkRecords);
  for (size_t i = 0; i < chunks_sent && size < chunk_size; ++i) {
    size = std::min(chunk_size, size * 2);
  }
  return size;
}
namespace {

Status Unknown(std::string_view key) { return UnknownMember(key); }

Result<InstanceId> ParseId(json::Value v, std::string_view what) {
  const auto s = v.AsString();
  if (!s) return Status::InvalidArgument(std::string(what) + " must be a string");
  auto id = InstanceId::FromHex(*s);
  if (!id.ok()) return id.status().WithContext(what);
  return id;
}

// A number that does not fit an int is refused rather than wrapped, or a
// peer sending 2^32 + 1 would pass for protocol 1.
Result<int> ParseProtocol(json::Value v) {
  const auto p = v.AsInt64();
  if (!p || *p < std::numeric_limits<int>::min() || *p > std::numeric_limits<int>::max()) {
    return Status::InvalidArgument("protocol must be a 32-bit integer");
  }
  return static_cast<int>(*p);
}

Result<uint64_t> ParseCount(json::Value v, std::string_view what) {
  const auto n = v.AsInt64();
  if (!n || *n < 0) {
    return Status::InvalidArgument(std::string(what) + " must be a non-negative integer");
  }
  return static_cast<uint64_t>(*n);
}

Result<std::vector<std::string>> ParseStrings(json::Value v, std::string_view what) {
  if (!v.IsArray()) return Status::InvalidArgument(std::string(what) + " must be an array");
  std::vector<std::string> out;
  bool ok = true;
  v.ForEachElement([&](json::Value e) {
    auto s = e.AsString();
    ok = s.has_value();
    if (ok) out.push_back(std::move(*s));
    return ok;
  });
  if (!ok) return Status::InvalidArgument(std::string(what) + " must hold strings");
  return out;
}

void WriteStrings(json::Writer& w, const std::vector<std::string>& v) {
  w.BeginArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}

Result<Position> ParsePosition(json::Value v) {
  if (!v.IsObject()) return Status::InvalidArgument("a position must be an object");
  Position p;
  bool has_origin = false, has_counter = false;
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value value) {
    if (key == "origin") {
      auto id = ParseId(value, "origin");
      status = id.status();
      if (id.ok()) p.origin = *id;
      has_origin = true;
    } else if (key == "counter") {
      auto c = ParseCount(value, "counter");
      status = c.status();
      if (c.ok()) p.counter = *c;
      has_counter = true;
    } else {
      status = Unknown(key);
    }
    return status.ok();
  });
  BRAID_RETURN_IF_ERROR(status);
  if (!has_origin || !has_counter) {
    return Status::InvalidArgument("a position needs origin and counter");
  }
  return p;
}

void WritePosition(json::Writer& w, const std::optional<Position>& p) {
  if (!p) {
    w.Null();
    return;
  }
  w.BeginObject().Key("origin").String(p->origin.Hex()).Key("counter").Uint(p->counter).EndObject();
}

}  // namespace

Result<std::vector<std::string>> NormalizeFilter(std::vector<std::string> prefixes) {
  if (prefixes.size() > kMaxFilterPrefixes) {
    return Status::InvalidArgument("a filter has at most " + std::to_string(kMaxFilterPrefixes) +
                                   " partition prefixes; got " + std::to_string(prefixes.size()));
  }
  for (const auto& p : prefixes) BRAID_RETURN_IF_ERROR(ValidatePartition(p).WithContext("filter"));
  return DropCoveredPrefixes(std::move(prefixes));
}

std::string HandshakeRequestJson(const HandshakeRequest& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("protocol")
      .Int(r.protocol)
      .Key("instance_id")
      .String(r.instance_id.Hex())
      .Key("direction")
      .String(DirectionName(r.direction))
      .Key("filter");
  WriteStrings(w, r.filter);
  w.Key("fsic").Raw(VersionVectorToJson(r.fsic)).Key("chunk_size").Uint(r.chunk_size);
  w.Key("compression");
  WriteStrings(w, r.compression);
  if (r.certificate) w.Key("certificate").Raw(CertificateProofJson(*r.certificate));
  if (r.revocations_digest) w.Key("revocations_digest").String(*r.revocations_digest);
  w.EndObject();
  return out;
}

Result<HandshakeRequest> ParseHandshakeRequest(std::string_view body) {
  HandshakeRequest r;
  unsigned seen = 0;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "session request", [&](std::string_view key, json::Value v) -> Status {
        if (key == "protocol") {
          BRAID_ASSIGN_OR_RETURN(r.protocol, ParseProtocol(v));
          seen |= 1;
        } else if (key == "instance_id") {
          BRAID_ASSIGN_OR_RETURN(r.instance_id, ParseId(v, "instance_id"));
          seen |= 2;
        } else if (key == "direction") {
          const auto d = v.AsString();
          if (!d) return Status::InvalidArgument("direction must be a string");
          BRAID_ASSIGN_OR_RETURN(r.direction, ParseDirection(*d));
        } else if (key == "filter") {
          BRAID_ASSIGN_OR_RETURN(auto f, ParseStrings(v, "filter"));
          BRAID_ASSIGN_OR_RETURN(r.filter, NormalizeFilter(std::move(f)));
        } else if (key == "fsic") {
          BRAID_ASSIGN_OR_RETURN(r.fsic, VersionVectorFromJson(v.raw()));
          seen |= 4;
        } else if (key == "chunk_size") {
          BRAID_ASSIGN_OR_RETURN(const uint64_t c, ParseCount(v, "chunk_size"));
          if (c < 1 || c > kMaxChunkSize) {
            return Status::InvalidArgument("chunk_size must be between 1 and " +
                                           std::to_string(kMaxChunkSize));
          }
          r.chunk_size = c;
        } else if (key == "compression") {
          BRAID_ASSIGN_OR_RETURN(r.compression, ParseStrings(v, "compression"));
        } else if (key == "certificate") {
          BRAID_ASSIGN_OR_RETURN(r.certificate, ParseCertificateProof(v.raw()));
        } else if (key == "revocations_digest") {
          BRAID_ASSIGN_OR_RETURN(r.revocations_digest, ParseRevocationsDigest(v));
        } else {
          return Unknown(key);
        }
        return Status::OK();
      }));
  if (seen != 7) {
    return Status::InvalidArgument("session request needs protocol, instance_id and fsic");
  }
  return r;
}

std::string HandshakeResponseJson(const HandshakeResponse& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("session")
      .String(r.session)
      .Key("protocol")
      .Int(r.protocol)
      .Key("instance_id")
      .String(r.instance_id.Hex())
      .Key("fsic")
      .Raw(VersionVectorToJson(r.fsic))
      .Key("compression")
      .String(r.compression)
      .Key("chunk_size")
      .Uint(r.chunk_size)
      .Key("pull_pending")
      .Uint(r.pull_pending);
  if (r.revocations_digest) {
    w.Key("revocations_digest").String(*r.revocations_digest).Key("revocations");
    WriteRevocationList(w, r.revocations);
  }
  w.EndObject();
  return out;
}

Result<HandshakeResponse> ParseHandshakeResponse(std::string_view body) {
  HandshakeResponse r;
  unsigned seen = 0;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "session answer", [&](std::string_view key, json::Value v) -> Status {
        if (key == "session") {
          auto s = v.AsString();
          if (!s || s->empty()) return Status::InvalidArgument("session must be a string");
          r.session = std::move(*s);
          seen |= 1;
        } else if (key == "protocol") {
          BRAID_ASSIGN_OR_RETURN(r.protocol, ParseProtocol(v));
        } else if (key == "instance_id") {
          BRAID_ASSIGN_OR_RETURN(r.instance_id, ParseId(v, "instance_id"));
          seen |= 2;
        } else if (key == "fsic") {
          BRAID_ASSIGN_OR_RETURN(r.fsic, VersionVectorFromJson(v.raw()));
          seen |= 4;
        } else if (key == "compression") {
          auto s = v.AsString();
          if (!s) return Status::InvalidArgument("compression must be a string");
          r.compression = std::move(*s);
        } else if (key == "chunk_size") {
          BRAID_ASSIGN_OR_RETURN(r.chunk_size, ParseCount(v, "chunk_size"));
          if (r.chunk_size < 1 || r.chunk_size > kMaxChunkSize) {
            return Status::InvalidArgument("chunk_size must be between 1 and " +
                                           std::to_string(kMaxChunkSize));
          }
        } else if (key == "pull_pending") {
          BRAID_ASSIGN_OR_RETURN(r.pull_pending, ParseCount(v, "pull_pending"));
        } else if (key == "revocations_digest") {
          BRAID_ASSIGN_OR_RETURN(r.revocations_digest, ParseRevocationsDigest(v));
        } else if (key == "revocations") {
          BRAID_ASSIGN_OR_RETURN(r.revocations, ParseRevocationList(v));
        } else {
          return Unknown(key);
        }
        return Status::OK();
      }));
  if (seen != 7) {
    return Status::InvalidArgument("session answer needs session, instance_id and fsic");
  }
  return r;
}

std::string PositionJson(const std::optional<Position>& p) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("after");
  WritePosition(w, p);
  w.EndObject();
  return out;
}

Result<std::optional<Position>> ParsePullRequest(std::string_view body) {
  std::optional<Position> after;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "pull request", [&](std::string_view key, json::Value v) -> Status {
        if (key != "after") return Unknown(key);
        if (v.IsNull()) return Status::OK();
        BRAID_ASSIGN_OR_RETURN(after, ParsePosition(v));
        return Status::OK();
      }));
  return after;
}

std::string WaitRequestJson(const WaitRequest& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("filter").BeginArray();
  for (const auto& p : r.filter) w.String(p);
  w.EndArray().Key("since").Raw(VersionVectorToJson(r.since)).Key("wait_ms").Int(r.wait_ms);
  w.EndObject();
  return out;
}

Result<WaitRequest> ParseWaitRequest(std::string_view body) {
  WaitRequest r;
  bool since = false;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "wait request", [&](std::string_view key, json::Value v) -> Status {
        if (key == "filter") {
          BRAID_ASSIGN_OR_RETURN(auto f, ParseStrings(v, "filter"));
          BRAID_ASSIGN_OR_RETURN(r.filter, NormalizeFilter(std::move(f)));
        } else if (key == "since") {
          BRAID_ASSIGN_OR_RETURN(r.since, VersionVectorFromJson(v.raw()));
          since = true;
        } else if (key == "wait_ms") {
          auto ms = v.AsInt64();
          if (!ms || *ms < 0 || *ms > kMaxWaitMs) {
            return Status::InvalidArgument("wait_ms must be from 0 to " +
                                           std::to_string(kMaxWaitMs));
          }
          r.wait_ms = *ms;
        } else {
          return Unknown(key);
        }
        return Status::OK();
      }));
  if (!since) return Status::InvalidArgument("wait request needs since (an FSIC)");
  return r;
}

std::string WaitResponseJson(const VersionVector& fsic) {
  return "{\"fsic\":" + VersionVectorToJson(fsic) + "}";
}

Result<VersionVector> ParseWaitResponse(std::string_view body) {
  VersionVector fsic;
  bool seen = false;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "wait answer", [&](std::string_view key, json::Value v) -> Status {
        if (key != "fsic") return Unknown(key);
        BRAID_ASSIGN_OR_RETURN(fsic, VersionVectorFromJson(v.raw()));
        seen = true;
        return Status::OK();
      }));
  if (!seen) return Status::InvalidArgument("wait answer without fsic");
  return fsic;
}

std::string NamesRequestJson(const std::vector<std::pair<std::string, std::string>>& names) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("names").BeginArray();
  for (const auto& [c, id] : names) w.BeginArray().String(c).String(id).EndArray();
  w.EndArray().EndObject();
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseNamesRequest(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> names;
  bool seen = false;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "records request", [&](std::string_view key, json::Value v) -> Status {
        if (key != "names") return Unknown(key);
        seen = true;
        if (!v.IsArray()) return Status::InvalidArgument("names must be an array");
        if (v.Size() > kMaxNames) {
          return Status::InvalidArgument("at most " + std::to_string(kMaxNames) +
                                         " names per request");
        }
        Status s = Status::OK();
        v.ForEachElement([&](json::Value e) {
          std::optional<std::string> c, id;
          if (e.IsArray() && e.Size() == 2) {
            size_t i = 0;
            e.ForEachElement([&](json::Value x) {
              (i++ == 0 ? c : id) = x.AsString();
              return true;
            });
          }
          if (!c || !id) {
            s = Status::InvalidArgument("each name is [\"collection\", \"id\"]");
            return false;
          }
          s = ValidateCollection(*c);
          if (s.ok()) s = ValidateRecordId(*id);
          if (!s.ok()) return false;
          names.emplace_back(std::move(*c), std::move(*id));
          return true;
        });
        return s;
      }));
  if (!seen) return Status::InvalidArgument("records request: names is missing");
  return names;
}

namespace {

void WriteChunkTail(json::Writer& w,
                    const std::vector<std::pair<InstanceId, uint64_t>>& complete_to,
                    const std::optional<Position>& next, uint64_t pending) {
  w.EndArray().Key("complete_to").BeginObject();
  for (const auto& [id, counter] : complete_to) w.Key(id.Hex()).Uint(counter);
  w.EndObject().Key("next");
  WritePosition(w, next);
  w.Key("pending").Uint(pending).EndObject();
}

}  // namespace

std::string ChunkJson(const Chunk& c) {
  std::string out;
  size_t size = 128;
  for (const auto& r : c.records) size += r.body.size() + 200;
  out.reserve(size);
  json::Writer w(&out);
  w.BeginObject().Key("records").BeginArray();
  for (const auto& r : c.records) WriteWireRecord(w, r);
  WriteChunkTail(w, c.complete_to, c.next, c.pending);
  return out;
}

std::string ChunkJson(const std::vector<std::string_view>& wire_records,
                      const std::vector<std::pair<InstanceId, uint64_t>>& complete_to,
                      const std::optional<Position>& next, uint64_t pending) {
  std::string out;
  size_t size = 128 + 128 * complete_to.size();
  for (const std::string_view r : wire_records) size += r.size() + 1;
  out.reserve(size);
  json::Writer w(&out);
  w.BeginObject().Key("records").BeginArray();
  for (const std::string_view r : wire_records) w.Raw(r);
  WriteChunkTail(w, complete_to, next, pending);
  return out;
}

namespace {

Status Malformed(const Status& s) {
  return s.ok() ? s : Status(s.code(), "malformed chunk: " + s.message());
}

}  // namespace

// The envelope is walked with a json::Reader and each record is validated
// as it is read, its body minified on the way. Validating the chunk first
// and walking it again after, as Value would, cost a fifth of a pull.
Status ChunkReader::Member(std::string_view key) {
  const std::string name(key);  // `key` lasts only until the next read
  BRAID_ASSIGN_OR_RETURN(const json::Value v, in_.ReadValue());
  if (name == "complete_to") {
    BRAID_ASSIGN_OR_RETURN(const VersionVector vv, VersionVectorFromJson(v.raw()));
    envelope_.complete_to.assign(vv.entries().begin(), vv.entries().end());
  } else if (name == "next") {
    has_next_ = true;
    envelope_.next.reset();
    if (!v.IsNull()) {
      BRAID_ASSIGN_OR_RETURN(envelope_.next, ParsePosition(v));
    }
  } else if (name == "pending") {
    BRAID_ASSIGN_OR_RETURN(envelope_.pending, ParseCount(v, "pending"));
  } else {
    return Unknown(name);
  }
  return Status::OK();
}

Status ChunkReader::ToRecords() {
  if (state_ == State::kStart) BRAID_RETURN_IF_ERROR(in_.EnterObject());
  std::string_view key;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool more, in_.NextMember(&key));
    if (!more) {
      state_ = State::kAfterRecords;
      return in_.Finish();
    }
    if (key != "records") {
      BRAID_RETURN_IF_ERROR(Member(key));
      continue;
    }
    if (has_records_) return Status::InvalidArgument("records appears twice");
    BRAID_RETURN_IF_ERROR(in_.EnterArray().WithContext("records"));
    has_records_ = true;
    state_ = State::kRecords;
    return Status::OK();
  }
}

Result<bool> ChunkReader::Next(size_t n, std::vector<Record>* out) {
  if (state_ == State::kStart) BRAID_RETURN_IF_ERROR(Malformed(ToRecords()));
  if (state_ != State::kRecords) return false;
  for (size_t i = 0; i < n; ++i) {
    auto more = in_.NextElement();
    if (!more.ok()) return Malformed(more.status());
    if (!*more) {
      state_ = State::kAfterRecords;
      BRAID_RETURN_IF_ERROR(Malformed(ToRecords()));
      return false;
    }
    auto r = ReadWireRecord(in_);
    if (!r.ok()) {
      return Malformed(r.status().WithContext("records[" + std::to_string(count_) + "]"));
    }
    out->push_back(std::move(*r));
    ++count_;
  }
  return true;
}

Result<Chunk> ChunkReader::Finish() {
  if (state_ == State::kStart) BRAID_RETURN_IF_ERROR(Malformed(ToRecords()));
  if (state_ == State::kRecords) {
    return Status::Internal("ChunkReader::Finish called before the records were all read");
  }
  if (!has_records_ || !has_next_) {
    return Malformed(Status::InvalidArgument("chunk needs records and next"));
  }
  return std::move(envelope_);
}

Result<Chunk> ParseChunk(std::string_view body) {
  ChunkReader reader(body);
  std::vector<Record> records;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool more, reader.Next(SIZE_MAX, &records));
    if (!more) break;
  }
  BRAID_ASSIGN_OR_RETURN(Chunk c, reader.Finish());
  c.records = std::move(records);
  return c;
}

std::string PushResultJson(const PushResult& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("applied")
      .Uint(r.applied)
      .Key("merged")
      .Uint(r.merged)
      .Key("kept")
      .Uint(r.kept)
      .Key("ignored")
      .Uint(r.ignored)
      .Key("held")
      .Uint(r.held)
      .Key("conflicts")
      .Uint(r.conflicts)
      .EndObject();
  return out;
}

Result<PushResult> ParsePushResult(std::string_view body) {
  PushResult r;
  BRAID_RETURN_IF_ERROR(
      ForEachMember(body, "push answer", [&](std::string_view key, json::Value v) -> Status {
        uint64_t* field = key == "applied"     ? &r.applied
                          : key == "merged"    ? &r.merged
                          : key == "kept"      ? &r.kept
                          : key == "ignored"   ? &r.ignored
                          : key == "held"      ? &r.held
                          : key == "conflicts" ? &r.conflicts
                                               : nullptr;
        if (field == nullptr) return Unknown(key);
        BRAID_ASSIGN_OR_RETURN(*field, ParseCount(v, key));
        return Status::OK();
      }));
  return r;
}

}  // namespace braid::repl
