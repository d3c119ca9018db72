#include "api/api.h"

#include <chrono>
#include <vector>

#include "api/query.h"
#include "api/waiters.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/validate.h"
#include "braid/version.h"
#include "feed/format.h"
#include "http/address.h"
#include "http/client.h"
#include "repl/server.h"

namespace braid::api {
namespace {

// The parts of a record write carried by a request: PUT's envelope or one
// item of a batch.
struct WriteSpec {
  std::string collection;
  std::string id;
  bool deleted = false;
  std::string_view body;  // raw JSON inside the validated request
  std::optional<std::string> partition;
  PutRequest::ParentMode parent_mode = PutRequest::ParentMode::kKeep;
  std::string parent;
};

// Reads the members of a write object. `with_names`: collection and id are
// members (batch items); otherwise they come from the URL.
Status ParseWrite(json::Value v, bool with_names, WriteSpec* out) {
  if (!v.IsObject()) return Status::InvalidArgument("expected a JSON object");
  bool has_body = false, has_collection = false, has_id = false;
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value value) {
    auto string_member = [&](std::string* dst) {
      auto s = value.AsString();
      if (!s) {
        status = Status::InvalidArgument("\"" + std::string(key) + "\" must be a string");
        return false;
      }
      *dst = std::move(*s);
      return true;
    };
    if (key == "body") {
      if (!value.IsObject()) {
        status = Status::InvalidArgument("\"body\" must be a JSON object");
        return false;
      }
      out->body = value.raw();
      has_body = true;
    } else if (key == "partition") {
      if (!string_member(&out->partition.emplace())) return false;
    } else if (key == "parent") {
      if (value.IsNull()) {
        out->parent_mode = PutRequest::ParentMode::kClear;
      } else {
        if (!string_member(&out->parent)) return false;
        out->parent_mode = PutRequest::ParentMode::kSet;
      }
    } else if (with_names && key == "collection") {
      if (!string_member(&out->collection)) return false;
      has_collection = true;
    } else if (with_names && key == "id") {
      if (!string_member(&out->id)) return false;
      has_id = true;
    } else if (with_names && key == "deleted") {
      const auto b = value.AsBool();
      if (!b) {
        status = Status::InvalidArgument("\"deleted\" must be true or false");
        return false;
      }
      out->deleted = *b;
    } else {
      status =
          Status::InvalidArgument("unknown member \"" + std::string(key) + "\"; a write has " +
                                  (with_names ? "collection, id, body or deleted, partition, parent"
                                              : "body, partition, parent"));
      return false;
    }
    return true;
  });
  BRAID_RETURN_IF_ERROR(status);
  if (with_names && !has_collection) return Status::InvalidArgument("missing \"collection\"");
  if (with_names && !has_id) return Status::InvalidArgument("missing \"id\"");
  if (out->deleted && has_body) {
    return Status::InvalidArgument("a write has either \"body\" or \"deleted\": true, not both");
  }
  if (!out->deleted && !has_body) return Status::InvalidArgument("missing \"body\"");
  return Status::OK();
}

// Writes `w` in `txn`, then checks that `who` may write in the record's
// partition (known only once the store has the record: an existing one
// keeps its own). A refusal leaves the write to the transaction's abort.
Result<WriteResult> ApplyWrite(WriteTransaction& txn, const WriteSpec& w,
                               const auth::Principal& who) {
  Result<WriteResult> r = Status::Internal("unreachable");
  if (w.deleted) {
    r = txn.Delete(w.collection, w.id);
  } else {
    PutRequest req;
    req.collection = w.collection;
    req.id = w.id;
    req.body = w.body;
    if (w.partition) req.partition = *w.partition;
    req.parent_mode = w.parent_mode;
    req.parent = w.parent;
    r = txn.Put(req);
  }
  if (r.ok()) BRAID_RETURN_IF_ERROR(auth::NeedWrite(who, r->record.partition));
  return r;
}

http::Response RecordResponse(int status, const Record& rec) {
  http::Response r = JsonResponse(status, RecordJson(rec));
  r.headers.emplace_back("ETag", "\"" + rec.version.ToString() + "\"");
  return r;
}

}  // namespace

Result<json::Value> ParseBody(const http::Request& req, std::string* minified) {
  if (req.body.empty()) return Status::InvalidArgument("the request needs a JSON body");
  BRAID_RETURN_IF_ERROR(json::Validate(req.body, minified).WithContext("request body"));
  return json::Value(*minified);
}

Result<std::vector<std::string>> PathSegments(std::string_view path) {
  std::vector<std::string> seg;
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument("the path must start with '/'");
  }
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    auto decoded = http::UrlDecode(path.substr(0, slash));
    if (!decoded.ok()) return decoded.status().WithContext("path");
    seg.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return seg;
}

Result<MetricsAccess> ParseMetricsAccess(std::string_view name) {
  if (name == "admin-or-loopback") return MetricsAccess::kAdminOrLoopback;
  if (name == "admin") return MetricsAccess::kAdmin;
  if (name == "public") return MetricsAccess::kPublic;
  return Status::InvalidArgument("unknown metrics access \"" + std::string(name) +
                                 "\"; use admin-or-loopback, admin or public");
}

Api::Api(Store& store, ApiOptions options)
    : store_(store),
      options_(options),
      auth_(store, options.auth),
      sync_(std::make_unique<repl::SyncServer>(store, nullptr, options.keyring)) {}

bool Api::Authenticate(const http::Request& request, const http::Responder& respond,
                       Principal* who) {
  static Counter* const refused = Metrics::Global().GetCounter(
      "braid_http_auth_refused_total", "Requests refused for missing or wrong credentials.");
  auth::AuthResult r =
      auth_.Authenticate(request.Header("Authorization"), http::HostOf(request.remote_address));
  if (r.status.ok()) {
    *who = std::move(r.principal);
    return true;
  }
  refused->Add();
  respond(Refusal(r));
  return false;
}

http::Response Api::Refusal(const auth::AuthResult& result) {
  http::Response resp = ErrorResponse(result.status);
  if (result.status.code() == Code::kTooManyRequests) {
    resp.headers.emplace_back("Retry-After", std::to_string(result.retry_after_s));
  }
  return resp;
}

std::optional<http::Response> Api::Admit(const http::Request& header) {
  if (header.path == "/healthz" || header.path == "/metrics") return std::nullopt;
  if (const std::string_view id = SessionCredential(header.Header("Authorization")); !id.empty()) {
    if (sync_->IsCertificateSession(std::string(id))) return std::nullopt;
    return ErrorResponse(Status::NotFound("no certificate session \"" + std::string(id) +
                                          "\" (it ended, expired or was aborted)"));
  }
  auth::AuthResult r =
      auth_.Authenticate(header.Header("Authorization"), http::HostOf(header.remote_address));
  if (r.status.ok()) return std::nullopt;
  return Refusal(r);
}

Api::~Api() {
  if (listener_ != 0) store_.RemoveChangeListener(listener_);
}

void Api::Attach(http::Executor& executor) {
  waiters_ = std::make_unique<Waiters>(executor);
  sync_ = std::make_unique<repl::SyncServer>(store_, &executor, options_.keyring);
  listener_ = store_.AddChangeListener([w = waiters_.get()] { w->Notify(); });
}

void Api::Shutdown() {
  if (waiters_) waiters_->Shutdown();
}

void Api::Handle(http::Request request, http::Responder respond) {
  static Counter* const requests =
      Metrics::Global().GetCounter("braid_http_requests_total", "HTTP requests received.");
  requests->Add();
  if (spdlog::should_log(spdlog::level::debug)) {
    // Access log for --debug: one line per answer, with its duration.
    respond = [inner = std::move(respond), method = request.method, target = request.target,
               peer = request.remote_address,
               start = std::chrono::steady_clock::now()](http::Response r) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      spdlog::debug("{} {} {} -> {} ({} bytes, {} us)", peer, method, target, r.status,
                    r.body.size(), us);
      inner(std::move(r));
    };
  }
  auto segments = PathSegments(request.path);
  if (!segments.ok()) return respond(ErrorResponse(segments.status()));
  const std::vector<std::string>& seg = *segments;
  const std::string& m = request.method;
  const bool get = m == "GET" || m == "HEAD";
  auto not_allowed = [&](const char* allow) {
    http::Response r = ErrorResponse(
        Status::MethodNotAllowed(m + " is not allowed on " + request.path + "; use " + allow));
    r.headers.emplace_back("Allow", allow);
    respond(std::move(r));
  };
  auto query_check = [&](std::initializer_list<std::string_view> allowed) {
    auto q = Query::Parse(request.query, allowed);
    if (!q.ok()) respond(ErrorResponse(q.status()));
    return q.ok();
  };

  const size_t n = seg.size();
  // Public: health checks, and metrics where the settings say so.
  if (n == 1 && seg[0] == "healthz") {
    if (!get) return not_allowed("GET");
    if (!query_check({})) return;
    return respond(JsonResponse(200, R"({"status":"ok"})"));
  }
  Principal who;
  if (n == 1 && seg[0] == "metrics") {
    const bool open = options_.metrics == MetricsAccess::kPublic ||
                      (options_.metrics == MetricsAccess::kAdminOrLoopback &&
                       http::IsLoopback(http::HostOf(request.remote_address)));
    if (!open) {
      if (!Authenticate(request, respond, &who)) return;
      if (Status s = auth::NeedRole(who, Role::kAdmin, "read metrics"); !s.ok()) {
        return respond(ErrorResponse(s));
      }
    }
    if (!get) return not_allowed("GET");
    http::Response r = JsonResponse(200, Metrics::Global().Render());
    r.content_type = "text/plain; version=0.0.4";
    return respond(std::move(r));
  }
  // Certificate sessions carry no credentials but their proof, and then
  // their session's id (repl/server.h).
  if (n >= 3 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "sync") {
    const std::string_view authorization = request.Header("Authorization");
    if (authorization.empty() || !SessionCredential(authorization).empty()) {
      who.kind = Principal::Kind::kNone;
      return respond(
          sync_->Handle(request, std::vector<std::string>(seg.begin() + 3, seg.end()), who));
    }
  }
  // Blobs: for credentials, or for a certificate session's read scope.
  if ((n == 3 || n == 4) && seg[0] == "api" && seg[1] == "v1" && seg[2] == "blobs") {
    if (n == 3 && m != "POST") return not_allowed("POST");
    std::function<bool(std::string_view)> may_read;
    std::optional<auth::PartitionSet> scope;
    if (const std::string_view id = SessionCredential(request.Header("Authorization"));
        !id.empty()) {
      auto s = sync_->SessionReadScope(std::string(id));
      if (!s.ok()) return respond(ErrorResponse(s.status()));
      scope = std::move(*s);
      may_read = [&scope](std::string_view p) { return scope->Covers(p); };
    } else {
      if (!Authenticate(request, respond, &who)) return;
      may_read = [&who](std::string_view p) { return who.CanRead(p); };
    }
    return respond(n == 3 ? BlobBatch(request, may_read) : Blob(request, seg[3], may_read));
  }
  // Everything else needs credentials, checked before anything else is.
  if (!Authenticate(request, respond, &who)) return;
  auto need = [&](const Status& s) {
    if (!s.ok()) respond(ErrorResponse(s));
    return s.ok();
  };
  if (n == 2 && seg[0] == "api" && seg[1] == "last-sync") {
    if (!get) return not_allowed("GET");
    if (!query_check({})) return;
    return respond(LastSync());
  }
  if (n >= 3 && seg[0] == "api" && seg[1] == "v1") {
    if (n == 3 && seg[2] == "info") {
      if (!get) return not_allowed("GET");
      if (!query_check({})) return;
      return respond(Info());
    }
    if (n == 3 && seg[2] == "stats") {
      if (!get) return not_allowed("GET");
      if (!query_check({})) return;
      if (!need(auth::NeedAllPartitions(who, "stats"))) return;
      return respond(Stats());
    }
    if (n == 3 && seg[2] == "delta") {
      if (!get) return not_allowed("GET");
      if (!need(auth::NeedAllPartitions(who, "the delta feed"))) return;
      return Delta(request, std::move(respond));
    }
    if (n == 4 && seg[2] == "sync" && seg[3] == "wait") {
      if (m != "POST") return not_allowed("POST");
      return SyncWait(request, who, std::move(respond));
    }
    if (seg[2] == "sync") {
      return respond(
          sync_->Handle(request, std::vector<std::string>(seg.begin() + 3, seg.end()), who));
    }
    if (seg[2] == "certs") {
      if (!need(auth::NeedRole(who, Role::kAdmin, "manage certificates"))) return;
      return respond(Certs(request, std::vector<std::string>(seg.begin() + 3, seg.end()), who));
    }
    if (n == 3 && seg[2] == "search") {
      if (!get) return not_allowed("GET");
      return respond(Search(request, who));
    }
    if (n == 3 && seg[2] == "conflicts") {
      if (!get) return not_allowed("GET");
      if (!need(auth::NeedAllPartitions(who, "the list of conflicts"))) return;
      return respond(Conflicts(request));
    }
    if (n == 3 && seg[2] == "collections") {
      if (!get) return not_allowed("GET");
      if (!query_check({})) return;
      return respond(CollectionList());
    }
    if ((n == 3 || n == 4) && seg[2] == "remotes") {
      if (!query_check({})) return;
      if (!need(auth::NeedRole(who, Role::kAdmin, "manage remotes"))) return;
      return respond(Remotes(request, std::vector<std::string>(seg.begin() + 3, seg.end())));
    }
    if (n == 3 && seg[2] == "users") {
      if (!get) return not_allowed("GET");
      if (!query_check({})) return;
      if (!need(auth::NeedRole(who, Role::kAdmin, "list users"))) return;
      return respond(UserList());
    }
    if (n == 4 && seg[2] == "collections") {
      if (Status s = ValidateCollection(seg[3]); !s.ok()) return respond(ErrorResponse(s));
      if (!get && m != "PUT") return not_allowed("GET, PUT");
      if (!query_check({})) return;
      if (!get && !need(auth::NeedRole(who, Role::kAdmin, "change collection settings"))) return;
      return respond(CollectionSettings(seg[3], request));
    }
    if (n == 3 && seg[2] == "batch") {
      if (m != "POST") return not_allowed("POST");
      if (!query_check({})) return;
      if (!need(auth::NeedRole(who, Role::kWriter, "write records"))) return;
      return respond(Batch(request, who));
    }
    if ((n == 7 || n == 8) && seg[2] == "collections" && seg[4] == "records" &&
        seg[6] == "attachments") {
      return respond(Attachments(request, seg, who));
    }
    if ((n == 5 || n == 6) && seg[2] == "collections" && seg[4] == "records") {
      if (Status s = ValidateCollection(seg[3]); !s.ok()) return respond(ErrorResponse(s));
      if (!get && !need(auth::NeedRole(who, Role::kWriter, "write records"))) return;
      if (n == 5) {
        if (get) {
          if (!need(auth::NeedAllPartitions(who, "listing a collection"))) return;
          return respond(ListRecords(seg[3], request));
        }
        if (m == "POST") {
          if (!query_check({})) return;
          return respond(PostRecord(seg[3], request, who));
        }
        return not_allowed("GET, POST");
      }
      if (Status s = ValidateRecordId(seg[5]); !s.ok()) return respond(ErrorResponse(s));
      if (!query_check({})) return;
      if (get) return respond(GetRecord(seg[3], seg[5], who));
      if (m == "PUT") return respond(PutRecord(seg[3], seg[5], request, who));
      if (m == "DELETE") return respond(DeleteRecord(seg[3], seg[5], who));
      return not_allowed("GET, PUT, DELETE");
    }
  }
  respond(ErrorResponse(
      Status::NotFound("no route for " + request.path + "; see docs/protocol.md for the API")));
}

http::Response Api::Info() {
  std::string body;
  json::Writer w(&body);
  w.BeginObject()
      .Key("instance_id")
      .String(store_.instance_id().Hex())
      .Key("version")
      .String(BRAID_VERSION_STRING)
      .Key("protocol")
      .Int(kProtocolVersion)
      .Key("capabilities")
      .BeginObject()
      .Key("auth")
      .BeginArray()
      .String("basic")
      .String("token");
  if (options_.keyring != nullptr) w.String("certificate");
  w.EndArray()
      .Key("compression")
      .BeginArray()
      .String("zstd")
      .String("gzip")
      .EndArray()
      .EndObject()
      .EndObject();
  return JsonResponse(200, std::move(body));
}

http::Response Api::Stats() {
  auto stats = store_.Stats();
  if (!stats.ok()) return ErrorResponse(stats.status());
  std::string body;
  json::Writer w(&body);
  w.BeginObject();
  WriteStatsMembers(w, *stats);
  w.EndObject();
  return JsonResponse(200, std::move(body));
}

http::Response Api::GetRecord(std::string_view collection, std::string_view id,
                              const Principal& who) {
  auto rec = store_.Get(collection, id);
  if (!rec.ok()) return ErrorResponse(rec.status());
  if (!rec->has_value()) {
    return ErrorResponse(Status::NotFound("record " + std::string(collection) + "/" +
                                          std::string(id) + " does not exist"));
  }
  if (Status s = auth::NeedRead(who, (*rec)->partition); !s.ok()) return ErrorResponse(s);
  return RecordResponse(200, **rec);
}

http::Response Api::PutRecord(std::string_view collection, std::string_view id,
                              const http::Request& request, const Principal& who) {
  std::string text;
  auto body = ParseBody(request, &text);
  if (!body.ok()) return ErrorResponse(body.status());
  WriteSpec spec;
  if (Status s = ParseWrite(*body, false, &spec); !s.ok()) return ErrorResponse(s);
  spec.collection = collection;
  spec.id = id;
  auto txn = store_.BeginWrite();
  if (!txn.ok()) return ErrorResponse(txn.status());
  auto r = ApplyWrite(**txn, spec, who);
  if (!r.ok()) return ErrorResponse(r.status());
  if (Status s = (*txn)->Commit(); !s.ok()) return ErrorResponse(s);
  return RecordResponse(r->op == WriteOp::kCreated ? 201 : 200, r->record);
}

http::Response Api::PostRecord(std::string_view collection, const http::Request& request,
                               const Principal& who) {
  const std::string id = NewUuidV7(Clock::Real());
  http::Response r = PutRecord(collection, id, request, who);
  if (r.status == 201) {
    r.headers.emplace_back("Location",
                           "/api/v1/collections/" + std::string(collection) + "/records/" + id);
  }
  return r;
}

http::Response Api::DeleteRecord(std::string_view collection, std::string_view id,
                                 const Principal& who) {
  auto txn = store_.BeginWrite();
  if (!txn.ok()) return ErrorResponse(txn.status());
  WriteSpec spec;
  spec.collection = collection;
  spec.id = id;
  spec.deleted = true;
  auto r = ApplyWrite(**txn, spec, who);
  if (!r.ok()) return ErrorResponse(r.status());
  if (Status s = (*txn)->Commit(); !s.ok()) return ErrorResponse(s);
  return RecordResponse(200, r->record);
}

http::Response Api::ListRecords(std::string_view collection, const http::Request& request) {
  auto q = Query::Parse(request.query, {"after", "limit", "include_deleted"});
  if (!q.ok()) return ErrorResponse(q.status());
  ListQuery lq;
  lq.collection = collection;
  lq.after_id = q->Get("after").value_or("");
  auto limit = q->GetInt("limit", 1, 1000);
  if (!limit.ok()) return ErrorResponse(limit.status());
  lq.limit = static_cast<size_t>(limit->value_or(100));
  auto deleted = q->GetBool("include_deleted", false);
  if (!deleted.ok()) return ErrorResponse(deleted.status());
  lq.include_deleted = *deleted;
  auto records = store_.List(lq);
  if (!records.ok()) return ErrorResponse(records.status());
  std::string body;
  json::Writer w(&body);
  w.BeginObject().Key("records").BeginArray();
  for (const auto& rec : *records) WriteRecord(w, rec);
  w.EndArray().Key("next");
  if (records->size() == lq.limit) {
    w.String(records->back().id);  // pass as after= for the next page
  } else {
    w.Null();
  }
  w.EndObject();
  return JsonResponse(200, std::move(body));
}

http::Response Api::Batch(const http::Request& request, const Principal& who) {
  std::string text;
  auto body = ParseBody(request, &text);
  if (!body.ok()) return ErrorResponse(body.status());
  if (!body->IsObject()) return ErrorResponse(Status::InvalidArgument("expected a JSON object"));
  std::optional<json::Value> records;
  Status status;
  body->ForEachMember([&](std::string_view key, json::Value v) {
    if (key != "records") {
      status = Status::InvalidArgument("unknown member \"" + std::string(key) +
                                       "\"; a batch is {\"records\":[...]}");
      return false;
    }
    records = v;
    return true;
  });
  if (!status.ok()) return ErrorResponse(status);
  if (!records || !records->IsArray()) {
    return ErrorResponse(Status::InvalidArgument("a batch is {\"records\":[...]}"));
  }
  // Parse every item before writing anything.
  std::vector<WriteSpec> writes;
  writes.reserve(records->Size());
  records->ForEachElement([&](json::Value item) {
    status = ParseWrite(item, true, &writes.emplace_back())
                 .WithContext("records[" + std::to_string(writes.size() - 1) + "]");
    return status.ok();
  });
  if (!status.ok()) return ErrorResponse(status);

  auto txn = store_.BeginWrite();
  if (!txn.ok()) return ErrorResponse(txn.status());
  std::string out;
  out.reserve(writes.size() * 120 + 32);
  json::Writer w(&out);
  w.BeginObject().Key("results").BeginArray();
  uint64_t last_seq = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    auto r = ApplyWrite(**txn, writes[i], who);
    // The transaction aborts when it goes out of scope: all or nothing.
    if (!r.ok()) return ErrorResponse(r.status().WithContext("records[" + std::to_string(i) + "]"));
    if (r->seq != 0) last_seq = r->seq;
    w.BeginObject()
        .Key("collection")
        .String(r->record.collection)
        .Key("id")
        .String(r->record.id)
        .Key("status")
        .String(WriteOpName(r->op))
        .Key("version")
        .String(r->record.version.ToString())
        .EndObject();
  }
  if (Status s = (*txn)->Commit(); !s.ok()) return ErrorResponse(s);
  w.EndArray().Key("seq").Uint(last_seq).EndObject();
  return JsonResponse(200, std::move(out));
}

http::Response Api::Conflicts(const http::Request& request) {
  auto q = Query::Parse(request.query, {"after_collection", "after_id", "limit"});
  if (!q.ok()) return ErrorResponse(q.status());
  auto limit = q->GetInt("limit", 1, 1000);
  if (!limit.ok()) return ErrorResponse(limit.status());
  const size_t n = static_cast<size_t>(limit->value_or(100));
  auto records = store_.ListConflicts(q->Get("after_collection").value_or(""),
                                      q->Get("after_id").value_or(""), n);
  if (!records.ok()) return ErrorResponse(records.status());
  std::string body;
  json::Writer w(&body);
  w.BeginObject().Key("records").BeginArray();
  for (const auto& rec : *records) {
    auto held = store_.HeldVersions(rec.collection, rec.id);
    if (!held.ok()) return ErrorResponse(held.status());
    WriteConflictRecord(w, rec, *held);
  }
  w.EndArray().Key("more").Bool(records->size() == n).EndObject();
  return JsonResponse(200, std::move(body));
}

}  // namespace braid::api
