// The HTTP API of a braid instance (docs/protocol.md): records, batches, the
// delta feed with long-polls, replication, instance info and health.
//
// Every route but /healthz needs credentials (auth/authenticator.h) and a
// role: reading needs reader, writing records writer (within the
// principal's partition scope), settings admin; /metrics follows
// ApiOptions::metrics. Reads that span every partition (lists, the delta
// feed, conflicts, stats) need a principal without a scope; a scoped one
// reads single records and pulls with a filter inside its scope.
//
// Every error is answered as {"code","message"} with the HTTP status of the
// code (braid/status.h); nothing is written when a request is refused.
//
// Thread-safety: Handle() is called concurrently from the server's threads.

#ifndef BRAID_API_API_H_
#define BRAID_API_API_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "auth/authenticator.h"
#include "auth/keyring.h"
#include "base/json.h"
#include "blob/blob_store.h"
#include "braid/store.h"
#include "http/errors.h"
#include "http/server.h"
#include "store/attachment_list.h"

namespace braid::api {

class Waiters;
}  // namespace braid::api

namespace braid::repl {
class SyncServer;
}  // namespace braid::repl

namespace braid::index {
class SearchIndex;
class Follower;
}  // namespace braid::index

namespace braid::api {

// Who may read /metrics.
enum class MetricsAccess {
  kAdminOrLoopback,  // an admin, or any client on this machine (the default)
  kAdmin,            // an admin only
  kPublic,           // anyone, without credentials
};
// "admin-or-loopback", "admin", "public". Errors: InvalidArgument.
Result<MetricsAccess> ParseMetricsAccess(std::string_view name);

struct ApiOptions {
  int max_wait_seconds = 60;  // cap of the delta feed's wait=
  MetricsAccess metrics = MetricsAccess::kAdminOrLoopback;
  auth::AuthOptions auth;
  auth::Keyring* keyring = nullptr;      // null: no certificates (signing, sessions)
  int cert_max_days = 365;               // the longest certificate signed on request
  blob::BlobStore* blobs = nullptr;      // null: no attachments
  index::SearchIndex* search = nullptr;  // null: no search
  // Keeps `search` in line with the store; null: searches do not wait for
  // the index to catch up.
  index::Follower* follower = nullptr;
  uint64_t max_attachment_bytes = uint64_t{4} << 30;
};

// A request path's decoded segments: "/api/v1/x%2Fy" -> api, v1, "x/y".
// Errors: InvalidArgument (no leading '/', a bad escape).
Result<std::vector<std::string>> PathSegments(std::string_view path);

// Validates a request's whole JSON body once; Values then walk `*minified`.
// Errors: InvalidArgument (no body, not JSON).
Result<json::Value> ParseBody(const http::Request& req, std::string* minified);

// The session id of an "Authorization: Braid-Session ID" header, or "".
std::string_view SessionCredential(std::string_view authorization);

class Api : public http::Handler {
 public:
  Api(Store& store, ApiOptions options = {});
  ~Api() override;

  // Must be called once before serving: long-polls need the executor.
  void Attach(http::Executor& executor);
  // Answers every waiting long-poll now and stops new ones from waiting.
  void Shutdown();

  void Handle(http::Request request, http::Responder respond) override;
  // Refuses a large upload without valid credentials before it is read.
  std::optional<http::Response> Admit(const http::Request& header) override;
  // Streams an attachment upload into the blob store once its header passed
  // every check a complete upload would face (attachments.cc).
  std::shared_ptr<http::BodySink> BodySinkFor(const http::Request& header, uint64_t* max_bytes,
                                              std::optional<http::Response>* refusal) override;

 private:
  using Principal = auth::Principal;
  // Answers 401/429 itself and returns false when the request has no valid
  // credentials.
  bool Authenticate(const http::Request& request, const http::Responder& respond, Principal* who);
  // The 401/429 answer to a failed authentication.
  static http::Response Refusal(const auth::AuthResult& result);
  http::Response Info();
  http::Response GetRecord(std::string_view collection, std::string_view id, const Principal& who);
  http::Response PutRecord(std::string_view collection, std::string_view id,
                           const http::Request& request, const Principal& who);
  http::Response PostRecord(std::string_view collection, const http::Request& request,
                            const Principal& who);
  http::Response DeleteRecord(std::string_view collection, std::string_view id,
                              const Principal& who);
  http::Response ListRecords(std::string_view collection, const http::Request& request);
  http::Response Batch(const http::Request& request, const Principal& who);
  http::Response Stats();
  http::Response Conflicts(const http::Request& request);
  // GET|PUT /api/v1/collections/C (collections.cc): conflict policy and
  // search fields.
  http::Response CollectionSettings(std::string_view collection, const http::Request& request);
  // GET /api/v1/search (search.cc): results within `who`'s read scope, from
  // an index that has dealt with every write committed before the request
  // (waiting up to kSearchFreshWait for it).
  static constexpr std::chrono::milliseconds kSearchFreshWait{2000};
  http::Response Search(const http::Request& request, const Principal& who);
  void Delta(const http::Request& request, http::Responder respond);
  // GET /api/v1/collections (collections.cc).
  http::Response CollectionList();
  // GET /api/v1/users (users.cc): every user, with its password hash; admin.
  http::Response UserList();
  // /api/v1/remotes[/NAME] (remotes.cc): `seg` after "remotes"; admin.
  http::Response Remotes(const http::Request& request, const std::vector<std::string>& seg);
  // POST /api/v1/sync/wait (sync_wait.cc): answers when the FSIC moves.
  void SyncWait(const http::Request& request, const Principal& who, http::Responder respond);
  // GET /api/last-sync (mirror.cc): {} before any step succeeded, else
  // {"when": ISO-8601, "hours_ago": H} of the last successful step.
  http::Response LastSync();
  // GET|HEAD /api/v1/blobs/SHA256 (attachments.cc): a blob's bytes, for
  // whoever may read (`may_read(partition)`) a live record that names it;
  // what mirrors' attachments steps fetch.
  http::Response Blob(const http::Request& request, const std::string& sha256,
                      const std::function<bool(std::string_view)>& may_read);
  // POST /api/v1/blobs (attachments.cc): several blobs in one answer, for
  // the small files of an attachments step (docs/protocol.md, "Blobs").
  static constexpr size_t kMaxBlobBatch = 1000;
  http::Response BlobBatch(const http::Request& request,
                           const std::function<bool(std::string_view)>& may_read);
  // An attachment's bytes, with ETag, Range, If-Range and If-None-Match.
  http::Response ServeBlob(const http::Request& request, const Attachment& a);
  // /api/v1/collections/C/records/ID/attachments[/NAME] (attachments.cc).
  http::Response Attachments(const http::Request& request, const std::vector<std::string>& seg,
                             const Principal& who);
  // /api/v1/certs... (certs.cc); `who` is an admin.
  http::Response Certs(const http::Request& request, const std::vector<std::string>& segments,
                       const Principal& who);

  Store& store_;
  ApiOptions options_;
  auth::Authenticator auth_;
  std::unique_ptr<Waiters> waiters_;
  std::unique_ptr<repl::SyncServer> sync_;
  uint64_t listener_ = 0;
};

using http::ErrorResponse;
using http::JsonResponse;

}  // namespace braid::api

#endif  // BRAID_API_API_H_
