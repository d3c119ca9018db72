#include "blob/attachments.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "base/json.h"
#include "base/validate.h"
#include "store/content.h"

namespace braid::blob {
namespace {

// JSON numbers above 2^53 do not survive every peer's parser.
constexpr int64_t kMaxSize = int64_t{1} << 53;

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuoted(&out, s.substr(0, 80));
  return out;
}

Result<Attachment> ParseOne(std::string_view name, const json::Value& v) {
  Attachment a;
  a.name.assign(name);
  BRAID_RETURN_IF_ERROR(ValidateAttachmentName(name));
  auto fail = [&](std::string_view what) {
    return Status::InvalidArgument("attachment " + Quoted(name) + ": " + std::string(what));
  };
  if (!v.IsObject()) return fail("must be an object {content_type, md5, sha256, size}");
  bool seen[4] = {false, false, false, false};
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value m) {
    if (key == "size") {
      const auto n = m.AsInt64();
      if (!n || *n < 0 || *n > kMaxSize) {
        status = fail("size must be an integer from 0 to 2^53");
        return false;
      }
      a.size = static_cast<uint64_t>(*n);
      seen[0] = true;
      return true;
    }
    std::string* dst = key == "content_type" ? &a.content_type
                       : key == "md5"        ? &a.md5
                       : key == "sha256"     ? &a.sha256
                                             : nullptr;
    if (dst == nullptr) {
      status = fail("unknown member " + Quoted(key));
      return false;
    }
    auto text = m.AsString();
    if (!text) {
      status = fail(std::string(key) + " must be a string");
      return false;
    }
    *dst = std::move(*text);
    seen[key == "content_type" ? 1 : key == "md5" ? 2 : 3] = true;
    return true;
  });
  BRAID_RETURN_IF_ERROR(status);
  if (!(seen[0] && seen[1] && seen[2] && seen[3])) {
    return fail("needs content_type, md5, sha256 and size");
  }
  if (!IsSha256Hex(a.sha256)) return fail("sha256 must be 64 lowercase hex digits");
  if (!IsMd5Hex(a.md5)) return fail("md5 must be 32 lowercase hex digits");
  BRAID_RETURN_IF_ERROR(
      ValidateContentType(a.content_type).WithContext("attachment " + Quoted(name)));
  return a;
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

Status ValidateAttachmentName(std::string_view name) {
  BRAID_RETURN_IF_ERROR(ValidateName("attachment name", name));
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos) {
    return Status::InvalidArgument("attachment name " + Quoted(name) +
                                   " contains a slash; a name is one file name, not a path");
  }
  if (name.find("..") != std::string_view::npos) {
    return Status::InvalidArgument("attachment name " + Quoted(name) + " contains \"..\"");
  }
  if (name == ".") return Status::InvalidArgument("attachment name \".\" is not a file name");
  return Status::OK();
}

Status ValidateContentType(std::string_view type) {
  const size_t slash = type.find('/');
  bool ok = !type.empty() && type.size() <= 255 && slash != std::string_view::npos && slash > 0 &&
            slash + 1 < type.size();
  for (char c : type) ok = ok && c >= 0x20 && c < 0x7f;
  if (ok) return Status::OK();
  return Status::InvalidArgument("content type " + Quoted(type) +
                                 " is not a media type such as application/pdf (printable "
                                 "ASCII, at most 255 bytes)");
}

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

Result<std::vector<Attachment>> ParseAttachments(std::string_view body) {
  std::vector<Attachment> out;
  const std::string_view raw = AttachmentsMember(body);
  if (raw.empty()) return out;
  const json::Value list(raw);
  if (!list.IsObject()) {
    return Status::InvalidArgument("\"_attachments\" must be an object of attachments by name");
  }
  Status status;
  list.ForEachMember([&](std::string_view name, json::Value v) {
    auto a = ParseOne(name, v);
    if (!a.ok()) {
      status = a.status();
      return false;
    }
    out.push_back(std::move(*a));
    return true;
  });
  BRAID_RETURN_IF_ERROR(status);
  std::sort(out.begin(), out.end(),
            [](const Attachment& a, const Attachment& b) { return a.name < b.name; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].name == out[i - 1].name) {
      return Status::InvalidArgument("attachment " + Quoted(out[i].name) + " is listed twice");
    }
  }
  return out;
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
