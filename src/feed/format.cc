#include "feed/format.h"

namespace braid {

void WriteRecord(json::Writer& w, const Record& r) {
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
      .Key("body")
      .Raw(r.body);  // validated and minified when stored
  if (!r.conflicts.empty()) w.Key("conflicts").Raw(r.conflicts);
  w.EndObject();
}

void WriteConflictRecord(json::Writer& w, const Record& record, const std::vector<Record>& held) {
  w.BeginObject().Key("record");
  WriteRecord(w, record);
  w.Key("conflicts").Raw(record.conflicts.empty() ? "[]" : record.conflicts);
  w.Key("held").BeginArray();
  for (const auto& h : held) {
    w.BeginObject()
        .Key("version")
        .String(h.version.ToString())
        .Key("deleted")
        .Bool(h.deleted)
        .Key("body")
        .Raw(h.body)
        .EndObject();
  }
  w.EndArray().EndObject();
}

std::string RecordJson(const Record& record) {
  std::string out;
  out.reserve(record.body.size() + 256);
  json::Writer w(&out);
  WriteRecord(w, record);
  return out;
}

void WriteStatsMembers(json::Writer& w, const StoreStats& s) {
  w.Key("instance_id")
      .String(s.instance_id.Hex())
      .Key("schema")
      .Int(s.schema_version)
      .Key("records")
      .Uint(s.live)
      .Key("tombstones")
      .Uint(s.deleted)
      .Key("changes")
      .Uint(s.changes)
      .Key("last_seq")
      .Uint(s.last_seq)
      .Key("horizon")
      .Uint(s.horizon)
      .Key("counter")
      .Uint(s.counter)
      .Key("collections")
      .BeginArray();
  for (const auto& c : s.collections) {
    w.BeginObject()
        .Key("name")
        .String(c.name)
        .Key("records")
        .Uint(c.live)
        .Key("tombstones")
        .Uint(c.deleted)
        .EndObject();
  }
  w.EndArray();
}

std::string DeltaPageJson(const DeltaPage& page) {
  std::string out;
  size_t size = 64;
  for (const auto& item : page.items) size += 200 + (item.record ? item.record->body.size() : 0);
  out.reserve(size);
  json::Writer w(&out);
  w.BeginObject().Key("items").BeginArray();
  for (const auto& item : page.items) {
    w.BeginObject()
        .Key("type")
        .String(ChangeOpName(item.type))
        .Key("collection")
        .String(item.collection)
        .Key("id")
        .String(item.id)
        .Key("parent")
        .OptionalString(item.parent)
        .Key("seq")
        .Uint(item.seq)
        .Key("record");
    if (item.record) {
      WriteRecord(w, *item.record);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray().Key("cursor").String(page.cursor).Key("has_more").Bool(page.has_more).EndObject();
  return out;
}

}  // namespace braid
