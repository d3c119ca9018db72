// /api/v1/collections/C/records/ID/attachments[/NAME] (docs/protocol.md,
// "Attachments"): uploads streamed into the blob store, downloads streamed
// out of it with Range, listing and removal.

#include "blob/attachments.h"

#include <algorithm>
#include <cstring>
#include <optional>

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

// The body of POST /api/v1/blobs: for each blob asked for, in order,
// "SHA256 SIZE\n" and its bytes, or "SHA256 -\n" when the caller cannot
// have it. Each blob is opened when its turn comes.
class BatchSource final : public http::BodySource {
 public:
  struct Item {
    std::string sha256;
    std::optional<uint64_t> size;  // nullopt: not given
  };
  BatchSource(const blob::BlobStore& blobs, std::vector<Item> items)
      : blobs_(blobs), items_(std::move(items)) {
    for (const Item& it : items_) size_ += Header(it).size() + it.size.value_or(0);
  }
  uint64_t size() const override { return size_; }
  Result<size_t> Read(char* buf, size_t n) override {
    size_t done = 0;
    while (done < n && next_ < items_.size()) {
      if (pending_.empty() && reader_ == nullptr) {
        const Item& it = items_[next_];
        pending_ = Header(it);
        if (it.size && *it.size > 0) {
          BRAID_ASSIGN_OR_RETURN(reader_, blobs_.Read(it.sha256, 0, *it.size));
        }
      }
      if (!pending_.empty()) {
        const size_t k = std::min(n - done, pending_.size());
        std::memcpy(buf + done, pending_.data(), k);
        pending_.erase(0, k);
        done += k;
        if (pending_.empty() && reader_ == nullptr) ++next_;
        continue;
      }
      BRAID_ASSIGN_OR_RETURN(const size_t got, reader_->Read(buf + done, n - done));
      done += got;
      if (got == 0) {
        reader_.reset();
        ++next_;
      }
    }
    return done;
  }

 private:
  static std::string Header(const Item& it) {
    return it.sha256 + " " + (it.size ? std::to_string(*it.size) : std::string("-")) + "\n";
  }
  const blob::BlobStore& blobs_;
  const std::vector<Item> items_;
  uint64_t size_ = 0;
  size_t next_ = 0;
  std::string pending_;
  std::unique_ptr<blob::Reader> reader_;
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

http::Response Api::BlobBatch(const http::Request& request,
                              const std::function<bool(std::string_view)>& may_read) {
  if (options_.blobs == nullptr) {
    return ErrorResponse(Status::Unavailable("this server keeps no attachments"));
  }
  if (auto q = Query::Parse(request.query, {}); !q.ok()) return ErrorResponse(q.status());
  // {"sha256": [HEX, ...]}, at most kMaxBlobBatch.
  auto fail = [](const std::string& what) {
    return ErrorResponse(Status::InvalidArgument(
        "the body must be {\"sha256\": [SHA256, ...]} with 1 to " + std::to_string(kMaxBlobBatch) +
        " blobs named by 64 lowercase hex digits: " + what));
  };
  if (Status s = json::Validate(request.body, nullptr); !s.ok()) return fail(s.message());
  const json::Value root(request.body);
  if (!root.IsObject()) return fail("not an object");
  std::vector<BatchSource::Item> items;
  std::string problem;
  root.ForEachMember([&](std::string_view key, json::Value v) {
    if (key != "sha256" || !v.IsArray()) {
      problem = "unknown member \"" + std::string(key.substr(0, 40)) + "\"";
      return false;
    }
    v.ForEachElement([&](json::Value e) {
      auto sha = e.AsString();
      if (!sha || !blob::IsSha256Hex(*sha)) {
        problem = "an entry is not a SHA-256";
        return false;
      }
      if (items.size() == kMaxBlobBatch) {
        problem = "too many";
        return false;
      }
      items.push_back({std::move(*sha), std::nullopt});
      return true;
    });
    return problem.empty();
  });
  if (!problem.empty()) return fail(problem);
  if (items.empty()) return fail("no blob named");
  for (auto& it : items) {
    auto readers = store_.BlobReaders(it.sha256, 64);
    if (!readers.ok()) return ErrorResponse(readers.status());
    const bool allowed = std::any_of(readers->begin(), readers->end(),
                                     [&](const std::string& p) { return may_read(p); });
    if (!allowed) continue;
    auto size = options_.blobs->SizeOf(it.sha256);
    if (!size.ok()) return ErrorResponse(size.status());
    it.size = *size;
  }
  http::Response r;
  r.status = 200;
  r.content_type = "application/octet-stream";
  r.source = std::make_shared<BatchSource>(*options_.blobs, std::move(items));
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
    return ErrorResponse(
        Status::InvalidArgument("a blob is named by its SHA-256: 64 lowercase hex digits"));
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
