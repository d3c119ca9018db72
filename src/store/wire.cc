#include "store/wire.h"

#include <charconv>
#include <cstdint>

namespace braid {

void WriteWireRecord(json::Writer& w, const Record& r) {
  w.BeginObject()
      .Key("collection")
      .String(r.collection)
      .Key("id")
      .String(r.id)
      .Key("partition")
      .String(r.partition)
      .Key("parent")
      .OptionalString(r.parent)
      .Key("deleted")
      .Bool(r.deleted)
      .Key("version")
      .String(r.version.ToString())
      .Key("hlc")
      .Uint(r.hlc);
  if (!(r.vv.entries().size() == 1 && r.vv.entries()[0].first == r.version.origin &&
        r.vv.entries()[0].second == r.version.counter)) {
    w.Key("vv").BeginObject();
    for (const auto& [id, counter] : r.vv.entries()) w.Key(id.Hex()).Uint(counter);
    w.EndObject();
  }
  if (!r.field_clocks.empty()) w.Key("clocks").Raw(r.field_clocks);
  if (!r.conflicts.empty()) w.Key("conflicts").Raw(r.conflicts);
  w.Key("body").Raw(r.body).EndObject();
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

Result<Record> ParseWireRecord(json::Value v) {
  if (!v.IsObject()) return Status::InvalidArgument("a record must be a JSON object");
  Record r;
  bool has_vv = false;
  unsigned seen = 0;  // bit per required member
  Status status;
  auto fail = [&](std::string_view member, std::string_view what) {
    status = Status::InvalidArgument("record member \"" + std::string(member) + "\" " +
                                     std::string(what));
    return false;
  };
  v.ForEachMember([&](std::string_view key, json::Value value) {
    if (key == "collection" || key == "id" || key == "partition") {
      auto s = value.AsString();
      if (!s) return fail(key, "must be a string");
      (key == "collection" ? r.collection : key == "id" ? r.id : r.partition) = std::move(*s);
      seen |= key == "collection" ? 1u : key == "id" ? 2u : 4u;
    } else if (key == "parent") {
      if (!value.IsNull()) {
        auto s = value.AsString();
        if (!s) return fail(key, "must be a string or null");
        r.parent = std::move(*s);
      }
    } else if (key == "deleted") {
      const auto b = value.AsBool();
      if (!b) return fail(key, "must be true or false");
      r.deleted = *b;
      seen |= 8u;
    } else if (key == "version") {
      const auto s = value.AsString();
      auto ver = s ? ParseVersion(*s) : Result<Version>(Status::InvalidArgument("not a string"));
      if (!ver.ok()) return fail(key, ver.status().message());
      r.version = *ver;
      seen |= 16u;
    } else if (key == "hlc") {
      const auto h = value.AsInt64();
      if (!h || *h <= 0) return fail(key, "must be a positive integer");
      r.hlc = static_cast<uint64_t>(*h);
      seen |= 32u;
    } else if (key == "vv") {
      auto vv = VersionVectorFromJson(value.raw());
      if (!vv.ok()) return fail(key, vv.status().message());
      r.vv = std::move(*vv);
      has_vv = true;
    } else if (key == "clocks") {
      if (!value.IsObject()) return fail(key, "must be an object");
      r.field_clocks.assign(value.raw());
    } else if (key == "conflicts") {
      if (!value.IsArray()) return fail(key, "must be an array");
      r.conflicts.assign(value.raw());
    } else if (key == "body") {
      if (!value.IsObject()) return fail(key, "must be a JSON object");
      r.body.assign(value.raw());
      seen |= 64u;
    } else {
      return fail(key, "is not a record member");
    }
    return true;
  });
  BRAID_RETURN_IF_ERROR(status);
  if (seen != 127u) {
    return Status::InvalidArgument(
        "a record needs collection, id, partition, deleted, version, hlc and body");
  }
  if (!has_vv) r.vv.Set(r.version.origin, r.version.counter);
  if (r.field_clocks == "{}") r.field_clocks.clear();
  if (r.conflicts == "[]") r.conflicts.clear();
  return r;
}

}  // namespace braid
