// /api/v1/collections/C/records/ID/attachments[/NAME] (docs/protocol.md,
// "Attachments"): uploads streamed into the blob store, downloads streamed
// out of it with Range, listing and removal.

#include "blob/attachments.h"
#include "api/api.h"
#include "api/query.h"
#include "base/json.h"
#include "base/validate.h"
#include "feed/format.h"
#include "http/address.h"
#include "http/client.h"

namespace braid::api {
namespace {

// Receives an upload: the blob writer and what the client announced.
class UploadSink final : public http::BodySink {
 public:
  UploadSink(std::unique_ptr<blob::Writer> writer, blob::Expected expected)
      : writer_(std::move(writer)), expected_(std::move(expected)) {}
  Status Write(std::string_view piece) override { return writer_->Append(piece); }
  blob::Writer& writer() { return *writer_; }
  const blob::Expected& expected() const { return expected_; }

 private:
  std::unique_ptr<blob::Writer> writer_;
  const blob::Expected expected_;
};

// Serves a blob range.
class BlobSource final : public http::BodySource {
 public:
  explicit BlobSource(std::unique_ptr<blob::Reader> reader) : reader_(std::move(reader)) {}
  uint64_t size() const override { return size_; }
  Result<size_t> Read(char* buf, size_t n) override { return reader_->Read(buf, n); }

 private:
  std::unique_ptr<blob::Reader> reader_;
  const uint64_t size_ = reader_->size();
};

bool IsAttachmentRoute(const std::vector<std::string>& seg) {
  return (seg.size() == 7 || seg.size() == 8) && seg[0] == "api" && seg[1] == "v1" &&
         seg[2] == "collections" && seg[4] == "records" && seg[6] == "attachments";
}

// The hashes a client may announce with an upload, checked at its end.
Result<blob::Expected> ExpectedOf(const http::Request& header) {
  blob::Expected e;
  e.sha256 = std::string(header.Header("Braid-SHA256"));
  e.md5 = std::string(header.Header("Braid-MD5"));
  if (!e.sha256.empty() && !blob::IsSha256Hex(e.sha256)) {
    return Status::InvalidArgument("Braid-SHA256 must be 64 lowercase hex digits");
  }
  if (!e.md5.empty() && !blob::IsMd5Hex(e.md5)) {
    return Status::InvalidArgument("Braid-MD5 must be 32 lowercase hex digits");
  }
  return e;
}

Result<Record> LiveRecord(Store& store, std::string_view collection, std::string_view id) {
  BRAID_ASSIGN_OR_RETURN(auto rec, store.Get(collection, id));
  if (!rec || rec->deleted) {
    return Status::NotFound("record " + std::string(collection) + "/" + std::string(id) +
                            " does not exist");
  }
  return std::move(*rec);
}

}  // namespace

std::shared_ptr<http::BodySink> Api::BodySinkFor(const http::Request& header, uint64_t* max_bytes,
                                                 std::optional<http::Response>* refusal) {
  if (header.method != "PUT") return nullptr;
  auto seg = PathSegments(header.path);
  if (!seg.ok() || seg->size() != 8 || !IsAttachmentRoute(*seg)) return nullptr;
  // Everything the upload will be refused for is checked now, before a
  // byte of it is read (and again when it has arrived).
  auto refuse = [&](const Status& s) {
    *refusal = ErrorResponse(s);
    return nullptr;
  };
  if (options_.blobs == nullptr) {
    return refuse(Status::Unavailable("this server keeps no attachments"));
  }
  auth::AuthResult r =
      auth_.Authenticate(header.Header("Authorization"), http::HostOf(header.remote_address));
  if (!r.status.ok()) {
    *refusal = Refusal(r);
    return nullptr;
  }
  const Principal& who = r.principal;
  const std::string& collection = (*seg)[3];
  const std::string& id = (*seg)[5];
  Status s = auth::NeedRole(who, Role::kWriter, "attach files");
  if (s.ok()) s = ValidateCollection(collection);
  if (s.ok()) s = ValidateRecordId(id);
  if (s.ok()) s = blob::ValidateAttachmentName((*seg)[7]);
  if (!s.ok()) return refuse(s);
  auto rec = LiveRecord(store_, collection, id);
  if (!rec.ok()) return refuse(rec.status());
  if (s = auth::NeedWrite(who, rec->partition); !s.ok()) return refuse(s);
  auto expected = ExpectedOf(header);
  if (!expected.ok()) return refuse(expected.status());
  *max_bytes = options_.max_attachment_bytes;
  auto writer = options_.blobs->Create(options_.max_attachment_bytes);
  if (!writer.ok()) return refuse(writer.status());
  return std::make_shared<UploadSink>(std::move(*writer), std::move(*expected));
}

http::Response Api::Attachments(const http::Request& request, const std::vector<std::string>& seg,
                                const Principal& who) {
  const std::string& collection = seg[3];
  const std::string& id = seg[5];
  const std::string& m = request.method;
  const bool get = m == "GET" || m == "HEAD";
  if (options_.blobs == nullptr) {
    return ErrorResponse(Status::Unavailable("this server keeps no attachments"));
  }
  if (Status s = ValidateCollection(collection); !s.ok()) return ErrorResponse(s);
  if (Status s = ValidateRecordId(id); !s.ok()) return ErrorResponse(s);
  if (auto q = Query::Parse(request.query, {}); !q.ok()) return ErrorResponse(q.status());
  auto not_allowed = [&](const char* allow) {
    http::Response r = ErrorResponse(
        Status::MethodNotAllowed(m + " is not allowed on " + request.path + "; use " + allow));
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  auto may_write = [&who](const Record& rec) { return auth::NeedWrite(who, rec.partition); };

  if (seg.size() == 7) {
    if (!get) return not_allowed("GET");
    auto rec = LiveRecord(store_, collection, id);
    if (!rec.ok()) return ErrorResponse(rec.status());
    if (Status s = auth::NeedRead(who, rec->partition); !s.ok()) return ErrorResponse(s);
    auto list = blob::ParseAttachments(rec->body);
    if (!list.ok()) return ErrorResponse(list.status());
    std::string body = R"({"attachments":[)";
    for (size_t i = 0; i < list->size(); ++i) {
      if (i > 0) body += ',';
      body += blob::AttachmentJson((*list)[i]);
    }
    body += "]}";
    return JsonResponse(200, std::move(body));
  }

  const std::string& name = seg[7];
  if (Status s = blob::ValidateAttachmentName(name); !s.ok()) return ErrorResponse(s);
  if (m == "PUT") {
    if (Status s = auth::NeedRole(who, Role::kWriter, "attach files"); !s.ok()) {
      return ErrorResponse(s);
    }
    std::string type(request.Header("Content-Type"));
    if (type.empty()) type = blob::GuessContentType(name);
    if (Status s = blob::ValidateContentType(type); !s.ok()) return ErrorResponse(s);
    auto* upload = dynamic_cast<UploadSink*>(request.sink.get());
    std::unique_ptr<blob::Writer> own;
    blob::Expected expected;
    if (upload == nullptr) {
      // An empty body never reaches BodySinkFor.
      auto e = ExpectedOf(request);
      if (!e.ok()) return ErrorResponse(e.status());
      expected = std::move(*e);
      auto w = options_.blobs->Create(options_.max_attachment_bytes);
      if (!w.ok()) return ErrorResponse(w.status());
      own = std::move(*w);
      if (Status s = own->Append(request.body); !s.ok()) return ErrorResponse(s);
    } else {
      expected = upload->expected();
    }
    blob::Writer& writer = upload != nullptr ? upload->writer() : *own;
    auto info = writer.Commit(expected);
    if (!info.ok()) return ErrorResponse(info.status());
    blob::Attachment a;
    a.name = name;
    a.content_type = type;
    a.sha256 = info->sha256;
    a.md5 = info->md5;
    a.size = info->size;
    bool existed = false;
    if (auto before = LiveRecord(store_, collection, id); before.ok()) {
      auto f = blob::FindAttachment(before->body, name);
      existed = f.ok() && f->has_value();
    }
    auto r = blob::SetAttachment(store_, *options_.blobs, collection, id, a, may_write);
    if (!r.ok()) return ErrorResponse(r.status());
    http::Response resp =
        JsonResponse(existed ? 200 : 201, R"({"attachment":)" + blob::AttachmentJson(a) +
                                              R"(,"record":)" + RecordJson(r->record) + "}");
    resp.headers.emplace_back("ETag", "\"" + r->record.version.ToString() + "\"");
    return resp;
  }
  if (m == "DELETE") {
    if (Status s = auth::NeedRole(who, Role::kWriter, "remove attachments"); !s.ok()) {
      return ErrorResponse(s);
    }
    auto r = blob::RemoveAttachment(store_, collection, id, name, may_write);
    if (!r.ok()) return ErrorResponse(r.status());
    http::Response resp = JsonResponse(200, RecordJson(r->record));
    resp.headers.emplace_back("ETag", "\"" + r->record.version.ToString() + "\"");
    return resp;
  }
  if (!get) return not_allowed("GET, PUT, DELETE");

  auto rec = LiveRecord(store_, collection, id);
  if (!rec.ok()) return ErrorResponse(rec.status());
  if (Status s = auth::NeedRead(who, rec->partition); !s.ok()) return ErrorResponse(s);
  auto found = blob::FindAttachment(rec->body, name);
  if (!found.ok()) return ErrorResponse(found.status());
  if (!found->has_value()) {
    return ErrorResponse(Status::NotFound("record " + collection + "/" + id +
                                          " has no attachment \"" + name + "\""));
  }
  return ServeBlob(request, **found);
}

http::Response Api::ServeBlob(const http::Request& request, const blob::Attachment& a) {
  const std::string etag = "\"" + a.sha256 + "\"";
  auto size = options_.blobs->SizeOf(a.sha256);
  if (!size.ok()) return ErrorResponse(size.status());
  if (!*size || **size != a.size) {
    return ErrorResponse(Status::NotFound("the bytes of attachment \"" + a.name +
                                          "\" are not here yet: run `braid sync attachments`"));
  }
  http::Headers headers = {
      {"ETag", etag},
      {"Braid-SHA256", a.sha256},
      {"Braid-MD5", a.md5},
      {"Accept-Ranges", "bytes"},
      // Never rendered as a page of this origin (the dashboard's): an
      // uploaded HTML file must not run as braid.
      {"Content-Disposition", "attachment; filename*=UTF-8''" + http::UrlEncode(a.name)},
      {"X-Content-Type-Options", "nosniff"},
      {"Content-Security-Policy", "sandbox"},
  };
  if (request.Header("If-None-Match") == etag) {
    http::Response r;
    r.status = 304;
    r.content_type.clear();
    r.headers = std::move(headers);
    return r;
  }
  uint64_t offset = 0, length = a.size;
  int status = 200;
  const std::string_view if_range = request.Header("If-Range");
  if (auto range = ParseByteRange(request.Header("Range"), a.size);
      range && (if_range.empty() || if_range == etag)) {
    if (range->second == 0) {
      http::Response r = ErrorResponse(Status::InvalidArgument(
          "the range is past the end of the attachment (" + std::to_string(a.size) + " bytes)"));
      r.status = 416;
      r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(a.size));
      return r;
    }
    std::tie(offset, length) = *range;
    status = 206;
    headers.emplace_back("Content-Range", "bytes " + std::to_string(offset) + "-" +
                                              std::to_string(offset + length - 1) + "/" +
                                              std::to_string(a.size));
  }
  auto reader = options_.blobs->Read(a.sha256, offset, length);
  if (!reader.ok()) return ErrorResponse(reader.status());
  http::Response r;
  r.status = status;
  r.content_type = a.content_type;
  r.headers = std::move(headers);
  r.source = std::make_shared<BlobSource>(std::move(*reader));
  return r;
}

http::Response Api::Blob(const http::Request& request, const std::string& sha256,
                         const std::function<bool(std::string_view)>& may_read) {
  if (options_.blobs == nullptr) {
    return ErrorResponse(Status::Unavailable("this server keeps no attachments"));
  }
  if (request.method != "GET" && request.method != "HEAD") {
    http::Response r = ErrorResponse(Status::MethodNotAllowed(
        request.method + " is not allowed on " + request.path + "; use GET"));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (auto q = Query::Parse(request.query, {}); !q.ok()) return ErrorResponse(q.status());
  if (!blob::IsSha256Hex(sha256)) {
    return ErrorResponse(Status::InvalidArgument(
        "a blob is named by its SHA-256: 64 lowercase hex digits"));
  }
  // Served to whoever may read a live record that names it; for the
  // others it does not exist (its existence would tell about records
  // outside their scope).
  auto naming = store_.RecordsNamingBlob(sha256, 64);
  if (!naming.ok()) return ErrorResponse(naming.status());
  for (const Record& rec : *naming) {
    if (!may_read(rec.partition)) continue;
    auto list = blob::ParseAttachments(rec.body);
    if (!list.ok()) continue;
    for (const blob::Attachment& a : *list) {
      if (a.sha256 == sha256) return ServeBlob(request, a);
    }
  }
  return ErrorResponse(
      Status::NotFound("no record you may read names blob " + sha256.substr(0, 12) + "..."));
}

}  // namespace braid::api
