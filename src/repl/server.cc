#include "repl/server.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <optional>

#include "auth/token.h"
#include "base/compress.h"
#include "base/encoding.h"
#include "base/failpoint.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/errors.h"
#include "repl/fields.h"
#include "repl/protocol.h"
#include "repl/stream.h"

namespace braid::repl {
namespace {

struct Encoded {
  std::string body;  // compressed chunk JSON
  std::optional<Position> next;
  size_t records = 0;
};

struct SyncMetrics {
  Counter* sessions = Metrics::Global().GetCounter("braid_sync_sessions_total",
                                                   "Replication sessions opened by peers.");
  Counter* chunks_sent =
      Metrics::Global().GetCounter("braid_sync_chunks_sent_total", "Pull chunks sent to peers.");
  Counter* records_sent = Metrics::Global().GetCounter("braid_sync_records_sent_total",
                                                       "Records sent to peers in pull chunks.");
  Counter* bytes_sent = Metrics::Global().GetCounter("braid_sync_bytes_sent_total",
                                                     "Bytes of pull chunks sent, as on the wire.");
  Counter* chunks_received =
      Metrics::Global().GetCounter("braid_sync_chunks_received_total", "Push chunks applied.");
  Counter* records_received = Metrics::Global().GetCounter("braid_sync_records_received_total",
                                                           "Records received in push chunks.");
  Counter* conflicts = Metrics::Global().GetCounter(
      "braid_sync_conflicts_total", "Concurrent versions met while applying pushes.");
  Counter* refused = Metrics::Global().GetCounter(
      "braid_sync_refused_total", "Replication requests refused (authentication or bad input).");
};

SyncMetrics& M() {
  static SyncMetrics* const m = new SyncMetrics();
  return *m;
}

Result<Encoded> Encode(const StreamSender& sender, const std::optional<Position>& after,
                       size_t chunk_size, Codec codec) {
  BRAID_ASSIGN_OR_RETURN(EncodedChunk chunk, sender.NextJson(after, chunk_size));
  Encoded e;
  e.next = chunk.next;
  e.records = chunk.records;
  if (codec == Codec::kIdentity) {
    e.body = std::move(chunk.json);
  } else {
    BRAID_RETURN_IF_ERROR(Compress(codec, chunk.json, &e.body));
  }
  return e;
}

http::Response Error(const Status& s) {
  if (s.code() == Code::kForbidden || s.code() == Code::kInvalidArgument ||
      s.code() == Code::kPayloadTooLarge) {
    M().refused->Add();
  }
  return http::ErrorResponse(s);
}

// A chunk built ahead on the executor. Whoever claims it first builds it:
// the posted task, or the pull that asks for it before the task has started.
// A pull never waits for a task that has not started, so pulls that occupy
// every executor thread cannot wait on tasks queued behind them.
struct Prefetch {
  std::optional<Position> after;  // nullopt: the first chunk
  size_t records = 0;             // at most
  std::atomic<bool> claimed{false};
  std::promise<Result<Encoded>> promise;
  std::shared_future<Result<Encoded>> result = promise.get_future().share();
};

// The key of a session's row: its id hashed, since a certificate session's
// id is its credential (a copy of the store gives none away).
std::string SessionKey(std::string_view id) { return HexEncode(auth::TokenHash(id)); }

int64_t Millis(std::chrono::seconds s) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(s).count();
}

// Runs `write` in a write transaction of its own. Session and challenge
// rows are committed at durability normal: one lost to a power cut ends a
// session, which the client then opens again.
Status InTransaction(Store& store, const std::function<Status(WriteTransaction&)>& write) {
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite(Durability::kNormal));
  BRAID_RETURN_IF_ERROR(write(*txn));
  return txn->Commit();
}

}  // namespace

struct SyncServer::Session {
  std::string id;
  std::string key;  // its row's (SessionKey)
  // A certificate session: the peer's chain, checked again at every request.
  std::optional<auth::Chain> chain;
  std::string peer;   // for logs and errors: "instance <hex> (token <name>)"
  std::string owner;  // Principal::Describe() of who opened it
  Direction direction = Direction::kBoth;
  size_t chunk_size = 500;
  // Pull answers this process gave: the ramp (RampedChunkSize), which a
  // session going on in another process starts again.
  size_t chunks_sent = 0;
  Codec codec = Codec::kIdentity;
  std::optional<StreamSender> sender;      // pulls
  std::optional<StreamReceiver> receiver;  // pushes
  Mutex mu;                                // one request at a time
  // Its last request here: which session this process forgets first.
  std::chrono::steady_clock::time_point last_used;  // under SyncServer::mu_
  // The last use this process wrote to the row (or found there).
  std::atomic<int64_t> touched_ms{0};
  // The chunk being prepared for the next pull; null when none.
  std::shared_ptr<Prefetch> prefetch;
};

SyncServer::SyncServer(Store& store, http::Executor* executor, auth::Keyring* keyring,
                       SyncServerOptions options)
    : store_(store), executor_(executor), options_(options), keyring_(keyring) {
  (void)M();
}

// Prefetches hold their session by shared_ptr; the executor that runs them
// stops before the store goes, so nothing here needs waiting for.
SyncServer::~SyncServer() = default;

int64_t SyncServer::ExpiredBefore(int64_t now_ms) const {
  return now_ms - Millis(options_.idle_timeout) - Millis(options_.touch_interval);
}

Result<std::shared_ptr<SyncServer::Session>> SyncServer::Find(const std::string& id) {
  BRAID_ASSIGN_OR_RETURN(std::optional<SyncSessionRow> row, store_.GetSyncSession(SessionKey(id)));
  const int64_t now = store_.clock().NowMillis();
  if (row && row->used_ms < ExpiredBefore(now)) {
    spdlog::info("sync session {} of instance {} ({}) expired unused", id, row->peer.Hex(),
                 row->owner);
    Drop(id);
    return std::shared_ptr<Session>();
  }
  std::shared_ptr<Session> session;
  {
    MutexLock lock(mu_);
    auto it = sessions_.find(id);
    if (it != sessions_.end() && row) {
      session = it->second;
    } else if (it != sessions_.end()) {
      sessions_.erase(it);  // ended by another process
    }
  }
  if (!row) return std::shared_ptr<Session>();
  if (session == nullptr) {
    auto rebuilt = Rebuild(id, *row);
    if (!rebuilt.ok()) {
      spdlog::warn("sync session {} of instance {} ({}) cannot go on here: {}", id, row->peer.Hex(),
                   row->owner, rebuilt.status().ToString());
      return rebuilt.status();
    }
    session = Cache(std::move(*rebuilt));
    spdlog::info("sync session {} of {} goes on in this process", id, session->peer);
  }
  {
    MutexLock lock(mu_);
    session->last_used = std::chrono::steady_clock::now();
  }
  Touch(*session, row->used_ms, now);
  return session;
}

Result<std::shared_ptr<SyncServer::Session>> SyncServer::Rebuild(const std::string& id,
                                                                 const SyncSessionRow& row) {
  auto session = std::make_shared<Session>();
  session->id = id;
  session->key = row.key;
  session->owner = row.owner;
  session->peer = "instance " + row.peer.Hex() + " (" + row.owner + ")";
  session->direction = row.direction;
  session->chunk_size = row.chunk_size;
  auto codec = ParseCodec(row.codec);
  if (!codec.ok()) return Status::Corruption("its compression: " + codec.status().message());
  session->codec = *codec;
  if (!row.chain.empty()) {
    auto chain = auth::ParseChain(row.chain);
    if (!chain.ok()) return Status::Corruption("its chain: " + chain.status().message());
    session->chain = std::move(*chain);
  }
  if (row.direction != Direction::kPush) {
    // The streams end where they ended at the handshake, whichever
    // process sends them: nothing twice, nothing missed.
    StreamSender::Bounds bounds;
    for (const auto& [origin, end] : row.ends) {
      bounds.origins.push_back(origin);
      bounds.ends.push_back(end);
    }
    BRAID_ASSIGN_OR_RETURN(
        StreamSender sender,
        StreamSender::Create(store_, row.filter, row.peer_fsic, row.own_fsic, std::move(bounds)));
    session->sender.emplace(std::move(sender));
  }
  if (row.direction != Direction::kPull) {
    BRAID_ASSIGN_OR_RETURN(
        StreamReceiver receiver,
        StreamReceiver::Create(store_, row.filter, row.peer_fsic, row.direction == Direction::kBoth,
                               session->peer));
    receiver.LimitRecords(row.chunk_size);
    receiver.LimitWrites(
        session->chain ? session->chain->front().write : auth::PartitionSet::FromScope(row.scope),
        row.owner);
    session->receiver.emplace(std::move(receiver));
  }
  session->touched_ms = row.used_ms;
  return session;
}

std::shared_ptr<SyncServer::Session> SyncServer::Cache(std::shared_ptr<Session> session) {
  MutexLock lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  session->last_used = now;
  auto [at, added] = sessions_.emplace(session->id, session);
  if (!added) return at->second;  // another request rebuilt it first
  const auto idle = options_.idle_timeout + options_.touch_interval;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = now - it->second->last_used > idle ? sessions_.erase(it) : std::next(it);
  }
  while (sessions_.size() > std::max<size_t>(options_.max_sessions, 1)) {
    auto oldest = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second != session &&
          (oldest == sessions_.end() || it->second->last_used < oldest->second->last_used)) {
        oldest = it;
      }
    }
    sessions_.erase(oldest);  // its row stays: it is rebuilt if asked for again
  }
  return session;
}

void SyncServer::Touch(Session& session, int64_t used_ms, int64_t now_ms) {
  int64_t written = session.touched_ms.load();
  if (now_ms - std::max(used_ms, written) < Millis(options_.touch_interval)) return;
  if (!session.touched_ms.compare_exchange_strong(written, now_ms)) return;  // another request's
  auto write = [&store = store_, key = session.key, id = session.id, now_ms] {
    Status s = InTransaction(
        store, [&](WriteTransaction& txn) { return txn.TouchSyncSession(key, now_ms); });
    if (!s.ok()) spdlog::warn("sync session {}: cannot keep its last use: {}", id, s.ToString());
  };
  // Off the request when there is an executor (the store outlives it).
  if (executor_ != nullptr) {
    executor_->Post(std::move(write));
  } else {
    write();
  }
}

void SyncServer::Drop(const std::string& id) {
  {
    MutexLock lock(mu_);
    sessions_.erase(id);
  }
  const std::string key = SessionKey(id);
  Status s =
      InTransaction(store_, [&](WriteTransaction& txn) { return txn.DeleteSyncSession(key); });
  if (!s.ok()) {
    spdlog::warn("sync session {}: cannot remove it from the store ({}); it expires unused", id,
                 s.ToString());
  }
}

bool SyncServer::IsCertificateSession(const std::string& id) {
  auto session = Find(id);
  return session.ok() && *session != nullptr && (*session)->chain.has_value();
}

Result<auth::PartitionSet> SyncServer::SessionReadScope(const std::string& id) {
  BRAID_ASSIGN_OR_RETURN(std::shared_ptr<Session> session, Find(id));
  if (session == nullptr || !session->chain) {
    return Status::NotFound("no certificate session \"" + id +
                            "\" (it ended, expired or was aborted)");
  }
  if (Status s = keyring_->Recheck(*session->chain); !s.ok()) {
    spdlog::warn("sync session {} of {} ends: {}", session->id, session->peer, s.ToString());
    Drop(session->id);
    return s;
  }
  return session->chain->front().read;
}

http::Response SyncServer::Handle(const http::Request& request,
                                  const std::vector<std::string>& segments,
                                  const auth::Principal& who) {
  if (segments.size() == 1 && segments[0] == "challenge") {
    if (request.method != "POST") return Error(Status::MethodNotAllowed("use POST"));
    return NewChallenge(request);
  }
  if (segments.size() == 1 && segments[0] == "sessions") {
    if (request.method != "POST") return Error(Status::MethodNotAllowed("use POST"));
    return Open(request, who);
  }
  if ((segments.size() == 2 || segments.size() == 3) && segments[0] == "sessions") {
    auto found = Find(segments[1]);
    if (!found.ok()) return Error(found.status());
    std::shared_ptr<Session> session = std::move(*found);
    if (session == nullptr) {
      return Error(Status::NotFound("no session \"" + segments[1] +
                                    "\" (it ended, expired or was aborted); start a new one"));
    }
    if (session->chain) {
      // The session's id is its credential; its certificate must still hold.
      if (Status s = keyring_->Recheck(*session->chain); !s.ok()) {
        spdlog::warn("sync session {} of {} ends: {}", session->id, session->peer, s.ToString());
        Drop(session->id);
        return Error(s);
      }
    } else if (session->owner != who.Describe()) {
      return Error(Status::Forbidden("session " + segments[1] + " belongs to " + session->owner +
                                     ", not to " + who.Describe()));
    }
    if (segments.size() == 2) {
      if (request.method != "DELETE") return Error(Status::MethodNotAllowed("use DELETE"));
      Drop(segments[1]);
      return http::JsonResponse(200, "{}");
    }
    if (request.method != "POST") return Error(Status::MethodNotAllowed("use POST"));
    if (segments[2] == "revocations") return TakeRevocations(request);
    MutexLock lock(session->mu);
    if (segments[2] == "pull") return Pull(session, request);
    if (segments[2] == "push") return Push(*session, request);
    if (segments[2] == "records") return Named(*session, request);
  }
  return Error(Status::NotFound("no replication route " + request.path));
}

http::Response SyncServer::TakeRevocations(const http::Request& request) {
  if (keyring_ == nullptr) {
    return Error(Status::NotFound("this server does not keep revocations"));
  }
  std::vector<std::string> texts;
  Status s = ForEachMember(request.body, "revocations",
                           [&](std::string_view key, json::Value v) -> Status {
                             if (key != "revocations") return UnknownMember(key);
                             BRAID_ASSIGN_OR_RETURN(texts, ParseRevocationList(v));
                             return Status::OK();
                           });
  if (!s.ok()) return Error(s);
  auto added = keyring_->Accept(texts);
  if (!added.ok()) return Error(added.status());
  return http::JsonResponse(200, "{\"added\":" + std::to_string(*added) + "}");
}

http::Response SyncServer::NewChallenge(const http::Request& request) {
  if (keyring_ == nullptr) {
    return Error(Status::NotFound("this server does not take certificate sessions"));
  }
  auto req = ParseChallengeRequest(request.body);
  if (!req.ok()) return Error(req.status());
  auto chain = keyring_->OwnChainTo(req->root);
  if (!chain.ok()) {
    return Error(Status::NotFound("this server holds no valid certificate of dataset " + req->root +
                                  "; its admin can get one with braid cert request"));
  }
  ChallengeRow challenge;
  challenge.root = req->root;
  challenge.client_nonce = req->nonce;
  challenge.server_nonce.resize(kNonceBytes);
  RandomBytes(challenge.server_nonce.data(), kNonceBytes);
  challenge.made_ms = store_.clock().NowMillis();
  std::string raw(16, '\0');
  RandomBytes(raw.data(), raw.size());
  challenge.id = HexEncode(raw);
  ChallengeResponse resp;
  resp.challenge = challenge.id;
  resp.instance_id = store_.instance_id();
  resp.nonce = challenge.server_nonce;
  resp.chain = std::move(*chain);
  resp.signature = keyring_->key().Sign(
      ServerProofInput(req->nonce, resp.nonce, resp.instance_id, resp.challenge));
  auto digest = keyring_->RevocationsDigest();
  if (!digest.ok()) return Error(digest.status());
  resp.revocations_digest = *digest;
  if (*digest != req->revocations_digest) {
    auto all = keyring_->Revocations();
    if (!all.ok()) return Error(all.status());
    resp.revocations = std::move(*all);
    if (resp.revocations.size() > kMaxRevocationsSent) resp.revocations.resize(kMaxRevocationsSent);
  }
  // In the store: the handshake that uses it may reach another process.
  Status kept = InTransaction(store_, [&](WriteTransaction& txn) -> Status {
    BRAID_RETURN_IF_ERROR(txn.ExpireChallenges(challenge.made_ms - Millis(options_.challenge_ttl),
                                               std::max<size_t>(options_.max_challenges, 1) - 1)
                              .status());
    return txn.PutChallenge(challenge);
  });
  if (!kept.ok()) return Error(kept.WithContext("keeping the challenge"));
  return http::JsonResponse(200, ChallengeResponseJson(resp));
}

Status SyncServer::CheckProof(const HandshakeRequest& req, auth::Principal* who,
                              auth::Chain* chain) {
  if (keyring_ == nullptr) {
    return Status::NotFound("this server does not take certificate sessions");
  }
  const CertificateProof& proof = *req.certificate;
  std::optional<ChallengeRow> challenge;
  BRAID_RETURN_IF_ERROR(InTransaction(store_, [&](WriteTransaction& txn) -> Status {
    BRAID_ASSIGN_OR_RETURN(challenge, txn.TakeChallenge(proof.challenge));  // used once
    return Status::OK();
  }));
  if (!challenge ||
      store_.clock().NowMillis() - challenge->made_ms > Millis(options_.challenge_ttl)) {
    return Status::Forbidden("challenge " + proof.challenge +
                             " is unknown, used already or older than a minute; ask for a new one");
  }
  BRAID_RETURN_IF_ERROR(keyring_->Check(proof.chain));
  if (proof.chain.back().serial != challenge->root) {
    return Status::Forbidden("the certificate's chain ends at root " + proof.chain.back().serial +
                             ", not at " + challenge->root + " as the challenge said");
  }
  const auth::Certificate& leaf = proof.chain.front();
  if (!auth::VerifySignature(leaf.public_key,
                             ClientProofInput(challenge->server_nonce, challenge->client_nonce,
                                              req.instance_id, proof.challenge),
                             proof.signature)) {
    return Status::Forbidden("the proof of certificate " + leaf.serial +
                             " is not signed by its key");
  }
  const auth::PartitionSet filter = req.filter.empty()
                                        ? auth::PartitionSet::All()
                                        : *auth::PartitionSet::FromPrefixes(req.filter);
  const bool pull = req.direction != Direction::kPush, push = req.direction != Direction::kPull;
  if ((pull && !filter.Within(leaf.read)) || (push && !filter.Within(leaf.write))) {
    return Status::Forbidden("the session's filter (" + filter.Describe() +
                             ") is outside what certificate " + leaf.serial + " may " +
                             (pull && push ? "read and write"
                              : pull       ? "read"
                                           : "write") +
                             " (read: " + leaf.read.Describe() + "; write: " +
                             leaf.write.Describe() + "); give the remote a --filter inside it");
  }
  who->kind = auth::Principal::Kind::kCertificate;
  who->name = leaf.serial;
  who->role = leaf.write.Empty() ? Role::kReader : Role::kWriter;
  *chain = proof.chain;
  return Status::OK();
}

http::Response SyncServer::Open(const http::Request& request, const auth::Principal& caller) {
  auto req = ParseHandshakeRequest(request.body);
  if (!req.ok()) return Error(req.status());
  auth::Principal who = caller;
  std::optional<auth::Chain> chain;
  if (req->certificate) {
    chain.emplace();
    if (Status s = CheckProof(*req, &who, &*chain); !s.ok()) {
      spdlog::warn("certificate session refused to instance {}: {}", req->instance_id.Hex(),
                   s.ToString());
      return Error(s);
    }
  } else if (who.kind == auth::Principal::Kind::kNone) {
    return Error(Status::Unauthorized(
        "a replication session needs credentials (a token, a user's password) or a certificate"));
  } else if (req->direction != Direction::kPull) {
    if (Status s = auth::NeedRole(who, Role::kWriter, "push records"); !s.ok()) return Error(s);
  }
  if (!chain && !ScopeWithin(req->filter, who.scope)) {
    std::string filter = req->filter.empty() ? "every partition" : "";
    for (const auto& p : req->filter) filter += (filter.empty() ? "" : ", ") + p;
    std::string scope;
    for (const auto& p : who.scope) scope += (scope.empty() ? "" : ", ") + p;
    return Error(
        Status::Forbidden("the session's filter (" + filter + ") is outside the " +
                          (req->direction == Direction::kPull ? "read" : "read and write") +
                          " scope of " + who.Describe() + " (" + scope +
                          "); give the remote a --filter inside it (braid remote add --filter)"));
  }
  if (req->protocol != kProtocol) {
    return Error(Status::InvalidArgument("this server speaks replication protocol " +
                                         std::to_string(kProtocol) + "; the client asked for " +
                                         std::to_string(req->protocol)));
  }
  if (req->instance_id == store_.instance_id()) {
    return Error(Status::InvalidArgument("an instance cannot sync with itself"));
  }
  std::string raw(16, '\0');
  RandomBytes(raw.data(), raw.size());
  const std::string id = HexEncode(raw);
  // What the session needs to go on in any process: kept in the store
  // before the answer, since the next request may reach another process.
  SyncSessionRow row;
  row.key = SessionKey(id);
  row.owner = who.Describe();
  if (chain) {
    row.chain = auth::EncodeChain(*chain);
  } else {
    row.scope = who.scope;
  }
  row.peer = req->instance_id;
  row.direction = req->direction;
  row.filter = req->filter;
  row.chunk_size = req->chunk_size;
  std::string offered;
  for (const auto& c : req->compression) offered += c + ",";
  row.codec = std::string(CodecName(Negotiate({Codec::kZstd, Codec::kGzip}, offered)));

  // The streams' ends first, then the FSIC (StreamSender::Bounds).
  auto bounds = StreamSender::ReadBounds(store_);
  if (!bounds.ok()) return Error(bounds.status());
  auto own = store_.Fsic(req->filter);
  if (!own.ok()) return Error(own.status());
  if (const uint64_t seen = req->fsic.Get(store_.instance_id()),
      counter = own->Get(store_.instance_id());
      seen > counter) {
    spdlog::error("sync session refused: {}",
                  IdentityReusedMessage(store_.instance_id(), seen, counter));
    return Error(Status::Conflict(
        "the server's store was restored from an older copy and must renew its identity "
        "before it syncs again (its log says how)"));
  }
  row.peer_fsic = req->fsic;
  row.own_fsic = *own;
  for (size_t i = 0; i < bounds->origins.size(); ++i) {
    row.ends.emplace_back(bounds->origins[i], bounds->ends[i]);
  }
  row.created_ms = row.used_ms = store_.clock().NowMillis();
  // Built as any process rebuilds it from its row: they cannot differ.
  auto built = Rebuild(id, row);
  if (!built.ok()) return Error(built.status());
  std::shared_ptr<Session> session = std::move(*built);

  HandshakeResponse resp;
  resp.session = session->id;
  resp.instance_id = store_.instance_id();
  resp.fsic = *own;
  resp.compression = row.codec;
  resp.chunk_size = session->chunk_size;
  if (req->revocations_digest && keyring_ != nullptr) {
    // Revocations travel with every session, not only certificate ones.
    auto digest = keyring_->RevocationsDigest();
    if (!digest.ok()) return Error(digest.status());
    resp.revocations_digest = *digest;
    if (*digest != *req->revocations_digest) {
      auto all = keyring_->Revocations();
      if (!all.ok()) return Error(all.status());
      resp.revocations = std::move(*all);
      if (resp.revocations.size() > kMaxRevocationsSent) {
        resp.revocations.resize(kMaxRevocationsSent);
      }
    }
  }
  if (session->sender) {
    // The first pull follows this answer: its chunk is built meanwhile (the
    // session is not shared yet, so no lock is needed), from now on rather
    // than after the count below, which reads every pending entry's key.
    // With nothing pending it is an empty chunk, found as fast as the count.
    StartPrefetch(session, std::nullopt);
    auto pending = session->sender->Pending();
    if (!pending.ok()) return Error(pending.status());
    resp.pull_pending = *pending;
  }
  // Expired sessions go, and the least recently used past max_sessions.
  Status kept = InTransaction(store_, [&](WriteTransaction& txn) -> Status {
    BRAID_RETURN_IF_ERROR(txn.ExpireSyncSessions(ExpiredBefore(row.created_ms),
                                                 std::max<size_t>(options_.max_sessions, 1) - 1)
                              .status());
    return txn.PutSyncSession(row);
  });
  if (!kept.ok()) return Error(kept.WithContext("keeping the session"));
  session = Cache(std::move(session));
  M().sessions->Add();
  spdlog::info("sync session {} opened by {}: {} of [{}], {} pending, {}", session->id,
               session->peer, DirectionName(req->direction), fmt::join(req->filter, ", "),
               resp.pull_pending, resp.compression);
  return http::JsonResponse(201, HandshakeResponseJson(resp));
}

void SyncServer::StartPrefetch(const std::shared_ptr<Session>& session,
                               std::optional<Position> after) {
  if (executor_ == nullptr) return;
  auto next = std::make_shared<Prefetch>();
  next->after = after;
  next->records = RampedChunkSize(session->chunk_size, session->chunks_sent);
  session->prefetch = next;
  executor_->Post([next, session] {
    if (next->claimed.exchange(true)) return;  // the pull built it itself
    next->promise.set_value(Encode(*session->sender, next->after, next->records, session->codec));
  });
}

http::Response SyncServer::Pull(const std::shared_ptr<Session>& session,
                                const http::Request& request) {
  Session& s = *session;
  if (!s.sender) {
    return Error(Status::InvalidArgument("this session was opened for pushes only"));
  }
  auto after = ParsePullRequest(request.body);
  if (!after.ok()) return Error(after.status());
  Result<Encoded> encoded = Status::Internal("no chunk");
  std::shared_ptr<Prefetch> prefetch = std::move(s.prefetch);
  if (prefetch != nullptr && prefetch->claimed.exchange(true)) {
    // The task has started (it runs on another thread): wait for it.
    Result<Encoded> built = prefetch->result.get();
    if (prefetch->after == *after) encoded = std::move(built);
  }
  if (prefetch == nullptr || prefetch->after != *after || !encoded.ok()) {
    encoded = Encode(*s.sender, *after, RampedChunkSize(s.chunk_size, s.chunks_sent), s.codec);
  }
  if (!encoded.ok()) {
    Drop(s.id);
    return Error(encoded.status());
  }
  ++s.chunks_sent;
  // Prepare the next chunk while the client applies this one. It is sent
  // only when asked for, so a client that dies loses at most this chunk.
  if (encoded->next) StartPrefetch(session, encoded->next);
  (void)Failpoint("pull-send");
  M().chunks_sent->Add();
  M().records_sent->Add(encoded->records);
  M().bytes_sent->Add(encoded->body.size());
  spdlog::debug("sync session {}: sent pull chunk of {} records ({} bytes){}", s.id,
                encoded->records, encoded->body.size(), encoded->next ? "" : ", stream done");
  http::Response r;
  r.status = 200;
  r.body = std::move(encoded->body);
  if (s.codec != Codec::kIdentity) r.headers.emplace_back("Content-Encoding", CodecName(s.codec));
  return r;
}

http::Response SyncServer::Named(Session& s, const http::Request& request) {
  if (!s.sender) {
    return Error(Status::InvalidArgument("this session was opened for pushes only"));
  }
  auto names = ParseNamesRequest(request.body);
  if (!names.ok()) return Error(names.status());
  auto chunk = s.sender->NamedJson(*names);
  if (!chunk.ok()) return Error(chunk.status());
  M().records_sent->Add(chunk->records);
  http::Response r;
  r.status = 200;
  if (s.codec == Codec::kIdentity) {
    r.body = std::move(chunk->json);
  } else {
    if (Status c = Compress(s.codec, chunk->json, &r.body); !c.ok()) return Error(c);
    r.headers.emplace_back("Content-Encoding", CodecName(s.codec));
  }
  return r;
}

http::Response SyncServer::Push(Session& s, const http::Request& request) {
  if (!s.receiver) {
    return Error(Status::InvalidArgument("this session was opened for pulls only"));
  }
  auto abort = [&](const Status& status) {
    spdlog::warn("sync session {} from {} aborted: {}", s.id, s.peer, status.ToString());
    Drop(s.id);
    return Error(status);
  };
  Codec codec = Codec::kIdentity;
  if (const std::string_view enc = request.Header("Content-Encoding"); !enc.empty()) {
    auto c = ParseCodec(enc);
    if (!c.ok()) return abort(c.status());
    codec = *c;
  }
  (void)Failpoint("push-apply");
  auto applied = s.receiver->ApplyText(request.body, codec, options_.max_chunk_bytes);
  if (!applied.ok()) return abort(applied.status());
  const ApplyCounts* counts = &applied->counts;
  M().chunks_received->Add();
  M().records_received->Add(counts->received);
  M().conflicts->Add(counts->conflicts);
  PushResult r;
  r.applied = counts->applied;
  r.merged = counts->merged;
  r.kept = counts->kept;
  r.ignored = counts->ignored;
  r.held = counts->held;
  r.conflicts = counts->conflicts;
  return http::JsonResponse(200, PushResultJson(r));
}

}  // namespace braid::repl
