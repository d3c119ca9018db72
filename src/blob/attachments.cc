#include "blob/attachments.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "base/json.h"
#include "base/validate.h"
#include "store/content.h"

namespace braid::blob {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuoted(&out, s.substr(0, 80));
  return out;
}

std::string RecordName(std::string_view collection, std::string_view id) {
  return std::string(collection) + "/" + std::string(id);
}

// The live record (collection, id) as this write transaction sees it.
Result<Record> LiveRecord(Store& store, std::string_view collection, std::string_view id) {
  BRAID_RETURN_IF_ERROR(ValidateCollection(collection));
  BRAID_RETURN_IF_ERROR(ValidateRecordId(id));
  BRAID_ASSIGN_OR_RETURN(auto rec, store.Get(collection, id));
  if (!rec || rec->deleted) {
    return Status::NotFound("record " + RecordName(collection, id) +
                            " does not exist; attachments belong to a record: create it first");
  }
  return std::move(*rec);
}

Result<WriteResult> WriteList(WriteTransaction& txn, const Record& rec,
                              std::vector<Attachment> list) {
  PutRequest req;
  req.collection = rec.collection;
  req.id = rec.id;
  const std::string body = BodyWithAttachments(rec.body, std::move(list));
  req.body = body;
  req.attachments = PutRequest::AttachmentsMode::kSet;
  return txn.Put(req);
}

}  // namespace

std::string GuessContentType(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".pdf", "application/pdf"},   {".txt", "text/plain"},      {".md", "text/markdown"},
      {".html", "text/html"},        {".htm", "text/html"},       {".csv", "text/csv"},
      {".json", "application/json"}, {".xml", "application/xml"}, {".png", "image/png"},
      {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},     {".gif", "image/gif"},
      {".svg", "image/svg+xml"},     {".webp", "image/webp"},     {".zip", "application/zip"},
      {".gz", "application/gzip"},   {".tif", "image/tiff"},      {".tiff", "image/tiff"},
  };
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [ext, type] : kTypes) {
    if (lower.size() > ext.size() && lower.ends_with(ext)) return std::string(type);
  }
  return "application/octet-stream";
}

Result<std::optional<Attachment>> FindAttachment(std::string_view body, std::string_view name) {
  BRAID_ASSIGN_OR_RETURN(auto list, ParseAttachments(body));
  for (auto& a : list) {
    if (a.name == name) return std::optional<Attachment>(std::move(a));
  }
  return std::optional<Attachment>();
}

std::string AttachmentJson(const Attachment& a) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("name")
      .String(a.name)
      .Key("content_type")
      .String(a.content_type)
      .Key("size")
      .Uint(a.size)
      .Key("sha256")
      .String(a.sha256)
      .Key("md5")
      .String(a.md5)
      .EndObject();
  return out;
}

std::string BodyWithAttachments(std::string_view body, std::vector<Attachment> list) {
  std::sort(list.begin(), list.end(),
            [](const Attachment& a, const Attachment& b) { return a.name < b.name; });
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  json::Value(body).ForEachMember([&](std::string_view key, json::Value v) {
    if (key != kAttachmentsField) w.Key(key).Raw(v.raw());
    return true;
  });
  if (!list.empty()) {
    w.Key(kAttachmentsField).BeginObject();
    for (const auto& a : list) {
      w.Key(a.name)
          .BeginObject()
          .Key("content_type")
          .String(a.content_type)
          .Key("md5")
          .String(a.md5)
          .Key("sha256")
          .String(a.sha256)
          .Key("size")
          .Uint(a.size)
          .EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
  return out;
}

Result<WriteResult> SetAttachment(Store& store, const BlobStore& blobs, std::string_view collection,
                                  std::string_view id, const Attachment& a,
                                  const WriteCheck& check) {
  BRAID_RETURN_IF_ERROR(ValidateAttachmentName(a.name));
  BRAID_RETURN_IF_ERROR(ValidateContentType(a.content_type));
  if (!IsSha256Hex(a.sha256) || !IsMd5Hex(a.md5)) {
    return Status::InvalidArgument("an attachment needs its SHA-256 and MD5 in lowercase hex");
  }
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
  // Inside the write lock: nothing can change the record meanwhile, and an
  // attachments step removes unreferenced blobs only while holding it.
  BRAID_ASSIGN_OR_RETURN(const Record rec, LiveRecord(store, collection, id));
  if (check) BRAID_RETURN_IF_ERROR(check(rec));
  BRAID_ASSIGN_OR_RETURN(auto size, blobs.SizeOf(a.sha256));
  if (!size || *size != a.size) {
    return Status::Unavailable("the bytes of attachment " + Quoted(a.name) +
                               " are no longer stored (removed meanwhile); send them again");
  }
  BRAID_ASSIGN_OR_RETURN(auto list, ParseAttachments(rec.body));
  auto it =
      std::find_if(list.begin(), list.end(), [&](const Attachment& x) { return x.name == a.name; });
  if (it != list.end()) {
    *it = a;
  } else {
    list.push_back(a);
  }
  BRAID_ASSIGN_OR_RETURN(auto result, WriteList(*txn, rec, std::move(list)));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  return result;
}

Result<WriteResult> RemoveAttachment(Store& store, std::string_view collection, std::string_view id,
                                     std::string_view name, const WriteCheck& check) {
  BRAID_RETURN_IF_ERROR(ValidateAttachmentName(name));
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
  BRAID_ASSIGN_OR_RETURN(const Record rec, LiveRecord(store, collection, id));
  if (check) BRAID_RETURN_IF_ERROR(check(rec));
  BRAID_ASSIGN_OR_RETURN(auto list, ParseAttachments(rec.body));
  const auto it =
      std::find_if(list.begin(), list.end(), [&](const Attachment& x) { return x.name == name; });
  if (it == list.end()) {
    return Status::NotFound("record " + RecordName(collection, id) + " has no attachment " +
                            Quoted(name));
  }
  list.erase(it);
  BRAID_ASSIGN_OR_RETURN(auto result, WriteList(*txn, rec, std::move(list)));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  return result;
}

}  // namespace braid::blob
