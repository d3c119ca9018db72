#include "store/content.h"

#include <algorithm>

#include "base/json.h"
#include "base/varint.h"
#include "braid/hlc.h"

namespace braid {
namespace {

void WriteWrite(json::Writer& w, const FieldWrite& fw) {
  w.BeginArray().Uint(fw.hlc).String(fw.origin.Hex()).Uint(fw.counter).EndArray();
}

// Parses [hlc, "<hex>", counter].
std::optional<FieldWrite> ParseWrite(json::Value v) {
  if (!v.IsArray() || v.Size() != 3) return std::nullopt;
  FieldWrite fw;
  int i = 0;
  bool ok = true;
  v.ForEachElement([&](json::Value e) {
    if (i == 0) {
      const auto h = e.AsInt64();
      ok = h && *h > 0;
      if (ok) fw.hlc = static_cast<uint64_t>(*h);
    } else if (i == 1) {
      const auto s = e.AsString();
      auto id = s ? InstanceId::FromHex(*s) : Result<InstanceId>(Status::InvalidArgument(""));
      ok = id.ok();
      if (ok) fw.origin = *id;
    } else {
      const auto c = e.AsInt64();
      ok = c && *c > 0;
      if (ok) fw.counter = static_cast<uint64_t>(*c);
    }
    ++i;
    return ok;
  });
  if (!ok) return std::nullopt;
  return fw;
}

// Field clocks as (name, write) pairs in document order.
Result<std::vector<std::pair<std::string, FieldWrite>>> ParseClocks(std::string_view text) {
  std::vector<std::pair<std::string, FieldWrite>> out;
  if (text.empty()) return out;
  const json::Value v(text);
  if (!v.IsObject()) return Status::InvalidArgument("field clocks must be a JSON object");
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value value) {
    auto fw = ParseWrite(value);
    if (!fw) {
      status = Status::InvalidArgument("field clock of \"" + std::string(key) +
                                       "\" must be [hlc, \"<instance hex>\", counter]");
      return false;
    }
    out.emplace_back(std::string(key), *fw);
    return true;
  });
  if (!status.ok()) return status;
  return out;
}

const FieldState* FindField(const std::vector<FieldState>& fields, std::string_view name) {
  auto it = std::lower_bound(fields.begin(), fields.end(), name,
                             [](const FieldState& f, std::string_view n) { return f.name < n; });
  return it != fields.end() && it->name == name ? &*it : nullptr;
}

std::vector<FieldState> BodyFields(std::string_view body) {
  std::vector<FieldState> fields;
  json::Value(body).ForEachMember([&](std::string_view key, json::Value value) {
    FieldState& f = fields.emplace_back();
    f.name.assign(key);
    f.value.emplace(value.raw());
    return true;
  });
  std::sort(fields.begin(), fields.end(),
            [](const FieldState& a, const FieldState& b) { return a.name < b.name; });
  return fields;
}

// Re-encodes one conflict entry canonically; nullopt when it has neither
// accepted shape.
std::optional<std::string> CanonicalConflict(json::Value e) {
  if (!e.IsObject()) return std::nullopt;
  std::string out;
  json::Writer w(&out);
  if (auto field = e.Find("field")) {
    const auto name = field->AsString();
    const auto write = e.Find("write");
    const auto fw = write ? ParseWrite(*write) : std::nullopt;
    const auto value = e.Find("value");
    const auto removed = e.Find("removed");
    if (!name || !fw || (value.has_value() == removed.has_value()) ||
        (removed && removed->AsBool() != true) || e.Size() != 3) {
      return std::nullopt;
    }
    w.BeginObject().Key("field").String(*name);
    if (value) {
      w.Key("value").Raw(value->raw());
    } else {
      w.Key("removed").Bool(true);
    }
    w.Key("write");
    WriteWrite(w, *fw);
    w.EndObject();
    return out;
  }
  const auto version = e.Find("version");
  const auto hlc = e.Find("hlc");
  const auto deleted = e.Find("deleted");
  const auto body = e.Find("body");
  if (!version || !hlc || !deleted || !body || e.Size() != 4 || !version->AsString() ||
      !hlc->AsInt64() || !deleted->AsBool() || !(body->IsObject() || body->IsNull())) {
    return std::nullopt;
  }
  w.BeginObject()
      .Key("version")
      .String(*version->AsString())
      .Key("hlc")
      .Int(*hlc->AsInt64())
      .Key("deleted")
      .Bool(*deleted->AsBool())
      .Key("body")
      .Raw(body->raw())
      .EndObject();
  return out;
}

}  // namespace

Result<Content> ParseContent(const Record& r) {
  Content c;
  c.deleted = r.deleted;
  c.parent = r.parent;
  c.fields = BodyFields(r.body);
  const FieldWrite version_write = VersionWrite(r);
  for (auto& f : c.fields) f.write = version_write;
  auto clocks = ParseClocks(r.field_clocks);
  if (!clocks.ok()) return Status::Corruption(clocks.status().message());
  for (auto& [name, fw] : *clocks) {
    auto it =
        std::lower_bound(c.fields.begin(), c.fields.end(), name,
                         [](const FieldState& f, const std::string& n) { return f.name < n; });
    if (it != c.fields.end() && it->name == name) {
      it->write = fw;
    } else {
      FieldState removed;
      removed.name = name;
      removed.write = fw;
      c.fields.insert(it, std::move(removed));
    }
  }
  if (!r.conflicts.empty()) {
    json::Value(r.conflicts).ForEachElement([&](json::Value e) {
      c.conflicts.emplace_back(e.raw());
      return true;
    });
  }
  return c;
}

std::string ClocksFor(const Content& c, const FieldWrite& version_write) {
  std::string clocks;
  json::Writer w(&clocks);
  w.BeginObject();
  bool any = false;
  for (const auto& f : c.fields) {
    if (f.value && f.write == version_write) continue;
    w.Key(f.name);
    WriteWrite(w, f.write);
    any = true;
  }
  w.EndObject();
  return any ? clocks : std::string();
}

std::string ConflictsText(const Content& c) {
  if (c.conflicts.empty()) return {};
  std::string out = "[";
  for (size_t i = 0; i < c.conflicts.size(); ++i) {
    if (i > 0) out += ',';
    out += c.conflicts[i];
  }
  out += ']';
  return out;
}

void StoreContent(const Content& c, Record* r) {
  r->deleted = c.deleted;
  r->parent = c.parent;
  r->body.clear();
  json::Writer body(&r->body);
  body.BeginObject();
  for (const auto& f : c.fields) {
    if (f.value) body.Key(f.name).Raw(*f.value);
  }
  body.EndObject();
  r->field_clocks = ClocksFor(c, VersionWrite(*r));
  r->conflicts = ConflictsText(c);
}

Result<Content> ContentAfterPut(const Record& old, std::string_view new_body,
                                const FieldWrite& write) {
  Content next;
  next.fields = BodyFields(new_body);
  if (old.deleted) {
    for (auto& f : next.fields) f.write = write;
    if (!old.conflicts.empty()) {
      BRAID_ASSIGN_OR_RETURN(const Content before, ParseContent(old));
      next.conflicts = before.conflicts;
    }
    return next;
  }
  BRAID_ASSIGN_OR_RETURN(const Content before, ParseContent(old));
  for (auto& f : next.fields) {
    const FieldState* prev = FindField(before.fields, f.name);
    f.write = prev != nullptr && prev->value == f.value ? prev->write : write;
  }
  // Collected apart: FindField needs next.fields sorted while it runs.
  std::vector<FieldState> removed;
  for (const auto& prev : before.fields) {
    if (FindField(next.fields, prev.name) != nullptr) continue;
    FieldState& r = removed.emplace_back();
    r.name = prev.name;
    r.write = prev.value ? write : prev.write;  // removed now, or earlier
  }
  if (!removed.empty()) {
    next.fields.insert(next.fields.end(), std::make_move_iterator(removed.begin()),
                       std::make_move_iterator(removed.end()));
    std::sort(next.fields.begin(), next.fields.end(),
              [](const FieldState& a, const FieldState& b) { return a.name < b.name; });
  }
  next.conflicts = before.conflicts;
  return next;
}

std::string_view AttachmentsMember(std::string_view body) {
  // Most bodies have neither the name nor an escape: no parse for them.
  if (body.find(kAttachmentsField) == std::string_view::npos &&
      body.find("\\u") == std::string_view::npos) {
    return {};
  }
  const auto member = json::Value(body).Find(kAttachmentsField);
  return member ? member->raw() : std::string_view();
}

Result<std::string> ClocksToLocal(std::string_view clocks_json, const NumForId& num_for) {
  BRAID_ASSIGN_OR_RETURN(auto entries, ParseClocks(clocks_json));
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<FieldWrite> writes;
  std::vector<size_t> index;
  index.reserve(entries.size());
  for (const auto& [name, fw] : entries) {
    auto it = std::find(writes.begin(), writes.end(), fw);
    index.push_back(static_cast<size_t>(it - writes.begin()));
    if (it == writes.end()) writes.push_back(fw);
  }
  std::string out;
  PutVarint(&out, writes.size());
  for (const auto& fw : writes) {
    BRAID_ASSIGN_OR_RETURN(const uint32_t num, num_for(fw.origin));
    PutVarint(&out, fw.hlc);
    PutVarint(&out, num);
    PutVarint(&out, fw.counter);
  }
  PutVarint(&out, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    PutVarint(&out, entries[i].first.size());
    out += entries[i].first;
    PutVarint(&out, index[i]);
  }
  return out;
}

Result<std::string> ClocksFromLocal(std::string_view blob, const IdForNum& id_for) {
  const Status bad = Status::Corruption("malformed field clocks in the store");
  uint64_t n_writes = 0;
  if (!GetVarint(&blob, &n_writes) || n_writes > blob.size()) return bad;
  std::vector<FieldWrite> writes(n_writes);
  for (auto& fw : writes) {
    uint64_t num = 0;
    if (!GetVarint(&blob, &fw.hlc) || !GetVarint(&blob, &num) || !GetVarint(&blob, &fw.counter) ||
        num > UINT32_MAX) {
      return bad;
    }
    BRAID_ASSIGN_OR_RETURN(fw.origin, id_for(static_cast<uint32_t>(num)));
  }
  uint64_t n_fields = 0;
  if (!GetVarint(&blob, &n_fields) || n_fields > blob.size()) return bad;
  std::string json;
  json::Writer w(&json);
  w.BeginObject();
  for (uint64_t i = 0; i < n_fields; ++i) {
    uint64_t len = 0, at = 0;
    if (!GetVarint(&blob, &len) || len > blob.size()) return bad;
    const std::string_view name = blob.substr(0, len);
    blob.remove_prefix(len);
    if (!GetVarint(&blob, &at) || at >= writes.size()) return bad;
    w.Key(name);
    WriteWrite(w, writes[at]);
  }
  w.EndObject();
  if (!blob.empty()) return bad;
  return n_fields == 0 ? std::string() : json;
}

Status ValidateFieldClocks(std::string_view clocks, bool deleted, const VersionVector& vv,
                           int64_t max_millis) {
  if (clocks.empty()) return Status::OK();
  if (deleted) return Status::InvalidArgument("a tombstone has no field clocks");
  BRAID_RETURN_IF_ERROR(json::Validate(clocks, nullptr).WithContext("field clocks"));
  BRAID_ASSIGN_OR_RETURN(auto parsed, ParseClocks(clocks));
  for (const auto& [name, write] : parsed) {
    if (!write.KnownBy(vv)) {
      return Status::InvalidArgument("field clock of \"" + name + "\" names write " +
                                     write.origin.Hex() + ":" + std::to_string(write.counter) +
                                     ", which the version vector does not include");
    }
    if (hlc::Millis(write.hlc) > max_millis) {
      return Status::InvalidArgument("field clock of \"" + name +
                                     "\" is too far ahead of this instance's clock");
    }
  }
  std::sort(parsed.begin(), parsed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < parsed.size(); ++i) {
    if (parsed[i].first == parsed[i - 1].first) {
      return Status::InvalidArgument("field clocks name \"" + parsed[i].first + "\" twice");
    }
  }
  return Status::OK();
}

Status ValidateConflicts(std::string_view conflicts) {
  if (conflicts.empty()) return Status::OK();
  BRAID_RETURN_IF_ERROR(json::Validate(conflicts, nullptr).WithContext("conflicts"));
  const json::Value v(conflicts);
  if (!v.IsArray()) return Status::InvalidArgument("conflicts must be a JSON array");
  Status status;
  std::string previous;
  v.ForEachElement([&](json::Value e) {
    const auto canonical = CanonicalConflict(e);
    if (!canonical || *canonical != e.raw()) {
      status = Status::InvalidArgument("conflict entry " + std::string(e.raw().substr(0, 80)) +
                                       " is not in the canonical form docs/protocol.md gives");
      return false;
    }
    if (!previous.empty() && !(previous < *canonical)) {
      status = Status::InvalidArgument("conflict entries must be sorted and unique");
      return false;
    }
    previous = *canonical;
    return true;
  });
  return status;
}

std::string FieldConflict(const FieldState& loser) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("field").String(loser.name);
  if (loser.value) {
    w.Key("value").Raw(*loser.value);
  } else {
    w.Key("removed").Bool(true);
  }
  w.Key("write");
  WriteWrite(w, loser.write);
  w.EndObject();
  return out;
}

std::string VersionConflict(const Record& loser) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("version")
      .String(loser.version.ToString())
      .Key("hlc")
      .Uint(loser.hlc)
      .Key("deleted")
      .Bool(loser.deleted)
      .Key("body");
  if (loser.deleted) {
    w.Null();
  } else {
    w.Raw(loser.body);
  }
  w.EndObject();
  return out;
}

std::vector<std::string> UnionConflicts(const std::vector<std::string>& a,
                                        const std::vector<std::string>& b) {
  std::vector<std::string> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace braid
