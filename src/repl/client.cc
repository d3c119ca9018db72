#include "repl/client.h"

#include <chrono>
#include <future>

#include "base/compress.h"
#include "base/encoding.h"
#include "base/failpoint.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "http/client.h"
#include "repl/protocol.h"
#include "repl/rules.h"
#include "repl/stream.h"

namespace braid::repl {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

// Turns a non-2xx answer into a Status that says what to do.
Status AnswerError(const Remote& remote, const http::ClientResponse& r, std::string_view what) {
  std::string code, message;
  if (json::Validate(r.body, nullptr).ok()) {
    const json::Value v(r.body);
    if (auto c = v.Find("code")) code = c->AsString().value_or("");
    if (auto m = v.Find("message")) message = m->AsString().value_or("");
  }
  if (message.empty()) message = r.body.substr(0, 200);
  std::string text = "remote \"" + remote.name + "\" refused " + std::string(what) + " (HTTP " +
                     std::to_string(r.status) + "): " + message;
  if (r.status == 401) {
    text += remote.user.empty()
                ? ". Create a token on the remote with `braid token create NAME` and give it "
                  "with `braid remote add " +
                      remote.name + " URL --token-file FILE`"
                : ". Check user \"" + remote.user +
                      "\" and its password on the remote "
                      "(braid user passwd), then `braid remote add " +
                      remote.name + " URL --user " + remote.user + " --password-file FILE`";
    return Status::Unauthorized(std::move(text));
  }
  if (r.status == 403) return Status::Forbidden(std::move(text));
  if (r.status == 429) return Status::TooManyRequests(std::move(text));
  if (r.status == 409) return Status::Conflict(std::move(text));
  if (r.status == 413) return Status::PayloadTooLarge(std::move(text));
  if (r.status >= 500) return Status::Unavailable(std::move(text));
  return Status::InvalidArgument(std::move(text));
}

namespace {

class Session {
 public:
  Session(Store& store, const Remote& remote, std::unique_ptr<http::Client> client,
          std::function<void(const SyncProgress&)> progress, auth::Keyring* keyring)
      : store_(store),
        remote_(remote),
        client_(std::move(client)),
        progress_(std::move(progress)),
        keyring_(keyring) {
    if (remote_.cert.empty()) {
      authorization_ = remote_.user.empty()
                           ? "Bearer " + remote_.token
                           : "Basic " + Base64Encode(remote_.user + ":" + remote_.token);
    }
  }

  // Keeps the revocations the server sent, and sends it those it lacks.
  Status PassRevocations() {
    if (keyring_ == nullptr || !hello_.revocations_digest) return Status::OK();
    BRAID_RETURN_IF_ERROR(keyring_->Accept(hello_.revocations).status());
    BRAID_ASSIGN_OR_RETURN(const std::string digest, keyring_->RevocationsDigest());
    if (digest == *hello_.revocations_digest) return Status::OK();
    BRAID_ASSIGN_OR_RETURN(std::vector<std::string> mine, keyring_->Revocations());
    if (mine.size() > kMaxRevocationsSent) mine.resize(kMaxRevocationsSent);
    std::string body;
    json::Writer w(&body);
    w.BeginObject().Key("revocations");
    WriteRevocationList(w, mine);
    w.EndObject();
    BRAID_ASSIGN_OR_RETURN(
        const auto r,
        Send("POST", "/api/v1/sync/sessions/" + hello_.session + "/revocations", body, {}));
    if (r.status != 200) return AnswerError(remote_, r, "the revocations sent");
    return Status::OK();
  }

  // The certificate part of the handshake (proof.h): asks for a challenge,
  // checks the server's chain and proof, and returns ours.
  Result<CertificateProof> Prove() {
    const std::string name = "remote \"" + remote_.name + "\"";
    if (keyring_ == nullptr) {
      return Status::InvalidArgument(name + " uses a certificate, but no keys were loaded");
    }
    BRAID_ASSIGN_OR_RETURN(auth::Chain own, keyring_->ChainOf(remote_.cert));
    if (own.front().public_key != keyring_->key().public_key()) {
      return Status::InvalidArgument(name + ": certificate " + remote_.cert +
                                     " is not for this instance's key");
    }
    if (Status s = keyring_->Recheck(own); !s.ok()) {
      return Status::Forbidden(name + ": " + s.message() +
                               "; get a new one with braid cert request " + remote_.name);
    }
    ChallengeRequest ask;
    ask.root = own.back().serial;
    ask.nonce.resize(kNonceBytes);
    RandomBytes(ask.nonce.data(), ask.nonce.size());
    BRAID_ASSIGN_OR_RETURN(ask.revocations_digest, keyring_->RevocationsDigest());
    BRAID_ASSIGN_OR_RETURN(const auto r,
                           Send("POST", "/api/v1/sync/challenge", ChallengeRequestJson(ask), {}));
    if (r.status != 200) return AnswerError(remote_, r, "a certificate challenge");
    BRAID_ASSIGN_OR_RETURN(const ChallengeResponse answer, ParseChallengeResponse(r.body));
    BRAID_RETURN_IF_ERROR(keyring_->Accept(answer.revocations).status());
    // The server must hold a certificate of the same dataset, and its key.
    if (answer.chain.back().serial != ask.root) {
      return Status::Forbidden(name + " answered with a certificate of another dataset (root " +
                               answer.chain.back().serial + ", not " + ask.root + ")");
    }
    if (Status s = keyring_->Check(answer.chain); !s.ok()) {
      return Status::Forbidden(name + "'s certificate is not trusted: " + s.message());
    }
    if (!auth::VerifySignature(
            answer.chain.front().public_key,
            ServerProofInput(ask.nonce, answer.nonce, answer.instance_id, answer.challenge),
            answer.signature)) {
      return Status::Forbidden(name + " did not prove it holds the key of its certificate " +
                               answer.chain.front().serial);
    }
    server_id_ = answer.instance_id;
    BRAID_RETURN_IF_ERROR(keyring_->Recheck(own).WithContext(name));  // revoked by what it sent?
    CertificateProof proof;
    proof.challenge = answer.challenge;
    proof.chain = std::move(own);
    proof.signature = keyring_->key().Sign(
        ClientProofInput(answer.nonce, ask.nonce, store_.instance_id(), answer.challenge));
    return proof;
  }

  Status Open(bool pull, bool push, std::vector<std::string> filter) {
    filter_ = std::move(filter);
    // What a push may send: the streams' ends, then the FSIC it claims from.
    BRAID_ASSIGN_OR_RETURN(bounds_, StreamSender::ReadBounds(store_));
    BRAID_ASSIGN_OR_RETURN(own_fsic_, store_.Fsic(filter_));
    HandshakeRequest req;
    req.instance_id = store_.instance_id();
    req.direction = pull && push ? Direction::kBoth : pull ? Direction::kPull : Direction::kPush;
    req.filter = filter_;
    req.fsic = own_fsic_;
    if (rules_ && pull) {
      // A remote whose rules shape its pulls goes on where they stopped:
      // past the writes they left out, which this store's FSIC stays below.
      BRAID_ASSIGN_OR_RETURN(const VersionVector marks,
                             store_.Marks(remote_.name, MarkKind::kPull));
      req.fsic.MergeFrom(marks);
    }
    req.chunk_size = remote_.chunk_size;
    req.compression = {"zstd", "gzip"};
    if (!remote_.cert.empty()) {
      BRAID_ASSIGN_OR_RETURN(req.certificate, Prove());
    }
    if (keyring_ != nullptr) {
      BRAID_ASSIGN_OR_RETURN(req.revocations_digest, keyring_->RevocationsDigest());
    }
    const std::string body = HandshakeRequestJson(req);
    BRAID_ASSIGN_OR_RETURN(const auto r, Send("POST", "/api/v1/sync/sessions", body, {}));
    if (r.status != 201) return AnswerError(remote_, r, "the session");
    BRAID_ASSIGN_OR_RETURN(hello_, ParseHandshakeResponse(r.body));
    if (req.certificate) {
      if (hello_.instance_id != server_id_) {
        return Status::Forbidden("remote \"" + remote_.name +
                                 "\": the session was opened by another instance than the one "
                                 "that proved its certificate");
      }
      authorization_ = "Braid-Session " + hello_.session;
    }
    BRAID_RETURN_IF_ERROR(PassRevocations());
    if (hello_.instance_id == store_.instance_id()) {
      return Status::InvalidArgument("remote \"" + remote_.name +
                                     "\" is this same instance; a store cannot sync with itself");
    }
    if (const uint64_t seen = hello_.fsic.Get(store_.instance_id()),
        counter = own_fsic_.Get(store_.instance_id());
        seen > counter) {
      return Status::Conflict("remote \"" + remote_.name +
                              "\": " + IdentityReusedMessage(store_.instance_id(), seen, counter));
    }
    BRAID_ASSIGN_OR_RETURN(codec_, ParseCodec(hello_.compression));
    return Status::OK();
  }

  Status PullAll() {
    summary_.pulled = true;
    if (hello_.pull_pending == 0) return Status::OK();  // one round trip for a no-op sync
    BRAID_ASSIGN_OR_RETURN(StreamReceiver receiver,
                           StreamReceiver::Create(store_, filter_, hello_.fsic, two_way_,
                                                  "remote \"" + remote_.name + "\""));
    receiver.LimitRecords(hello_.chunk_size);
    for (const auto& [collection, policy] : remote_.rules.conflicts) {
      receiver.OverridePolicy(collection, policy);
    }
    if (rules_) receiver.UseRules(&*rules_, remote_.name, own_fsic_);
    if (summary_.dry_run) receiver.DryRun(&summary_.preview);
    const auto start = Clock::now();
    SyncProgress p;
    p.phase = Direction::kPull;
    p.pending = hello_.pull_pending;
    std::optional<Position> after;
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const auto r,
                             Send("POST", "/api/v1/sync/sessions/" + hello_.session + "/pull",
                                  PositionJson(after), {}));
      if (r.status != 200) return AnswerError(remote_, r, "a pull");
      Codec codec = Codec::kIdentity;
      if (const std::string_view enc = r.Header("Content-Encoding"); !enc.empty()) {
        BRAID_ASSIGN_OR_RETURN(codec, ParseCodec(enc));
      }
      BRAID_RETURN_IF_ERROR(Failpoint("pull-apply"));
      BRAID_ASSIGN_OR_RETURN(const StreamReceiver::Applied chunk,
                             receiver.ApplyText(r.body, codec, kMaxChunkBytes));
      const ApplyCounts& counts = chunk.counts;
      Count(counts);
      summary_.left_out += counts.left_out;
      ++summary_.chunks_received;
      summary_.received += counts.received;
      summary_.bytes_received += r.body.size();
      p.records += counts.received;
      p.bytes += r.body.size();
      p.seconds = Since(start);
      p.done = !chunk.next;
      if (progress_) progress_(p);
      if (!chunk.next) return FetchWanted(receiver);
      after = chunk.next;
    }
  }

  // The records that records taken reference and that no chunk brought
  // (docs/remotes.md, --include and --skip): asked for by name, round after
  // round while the records fetched reference more.
  Status FetchWanted(StreamReceiver& receiver) {
    constexpr int kMaxRounds = 16;
    for (int round = 0; round < kMaxRounds && !receiver.wanted().empty(); ++round) {
      // Their names there; those here, or with no name there, are dropped.
      std::vector<std::pair<std::string, std::string>> names;
      for (const auto& [collection, id] : std::set(receiver.wanted())) {
        BRAID_ASSIGN_OR_RETURN(const auto here, store_.Get(collection, id));
        auto there = rules_->RemoteId(collection, id);
        if (!here && there) {
          names.emplace_back(collection, *there);
        } else {
          receiver.ForgetWanted({collection, id});
        }
      }
      const auto asked = receiver.wanted();
      const size_t batch = std::min(kMaxNames, hello_.chunk_size);
      for (size_t i = 0; i < names.size(); i += batch) {
        std::vector<std::pair<std::string, std::string>> part(
            names.begin() + static_cast<long>(i),
            names.begin() + static_cast<long>(std::min(names.size(), i + batch)));
        BRAID_ASSIGN_OR_RETURN(const auto r,
                               Send("POST", "/api/v1/sync/sessions/" + hello_.session + "/records",
                                    NamesRequestJson(part), {}));
        if (r.status != 200) return AnswerError(remote_, r, "records asked for by name");
        Codec codec = Codec::kIdentity;
        if (const std::string_view enc = r.Header("Content-Encoding"); !enc.empty()) {
          BRAID_ASSIGN_OR_RETURN(codec, ParseCodec(enc));
        }
        BRAID_ASSIGN_OR_RETURN(const StreamReceiver::Applied chunk,
                               receiver.ApplyText(r.body, codec, kMaxChunkBytes));
        Count(chunk.counts);
        summary_.received += chunk.counts.received;
        summary_.left_out += chunk.counts.left_out;
        summary_.dependencies += chunk.counts.applied + chunk.counts.merged;
        summary_.bytes_received += r.body.size();
      }
      // Those the remote does not have are not asked for again.
      for (const auto& name : asked) receiver.ForgetWanted(name);
    }
    receiver.ClearWanted();
    return Status::OK();
  }

  Status PushAll() {
    summary_.pushed = true;
    VersionVector start = hello_.fsic;
    if (rules_) {
      // Where this remote's pushes stopped: the remote's FSIC stays below
      // the writes they left out, so its own is no place to start from.
      BRAID_ASSIGN_OR_RETURN(const VersionVector marks,
                             store_.Marks(remote_.name, MarkKind::kPush));
      start.MergeFrom(marks);
    }
    // After a pull in the same session that merged, what it wrote (the
    // merged versions) goes out now too: sent, not claimed (the handshake's FSIC caps the
    // claims), so the next session sends it again. A push alone keeps the
    // ends read before its FSIC, and sends each write once.
    if (summary_.merged > 0) {
      BRAID_ASSIGN_OR_RETURN(bounds_, StreamSender::ReadBounds(store_));
    }
    BRAID_ASSIGN_OR_RETURN(StreamSender sender,
                           StreamSender::Create(store_, filter_, start, own_fsic_, bounds_));
    if (rules_) {
      BRAID_ASSIGN_OR_RETURN(VersionVector floors,
                             store_.Marks(remote_.name, MarkKind::kPushFloor));
      sender.UseRules(&*rules_, std::move(floors));
    }
    BRAID_ASSIGN_OR_RETURN(const uint64_t pending, sender.Pending());
    if (pending == 0) return Status::OK();
    const auto begun = Clock::now();
    SyncProgress p;
    p.phase = Direction::kPush;
    p.pending = pending;
    const size_t size = hello_.chunk_size;
    auto build = [&sender, size](std::optional<Position> after, size_t built) {
      return sender.NextJson(after, RampedChunkSize(size, built));
    };
    // Chunk N+1 is read from the store while the remote applies chunk N.
    size_t built = 0;
    std::future<Result<EncodedChunk>> next =
        std::async(std::launch::async, build, std::nullopt, built++);
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const EncodedChunk chunk, next.get());
      if (chunk.next) next = std::async(std::launch::async, build, chunk.next, built++);
      if (chunk.records > 0 || chunk.claims) {
        std::string body;
        BRAID_RETURN_IF_ERROR(Compress(codec_, chunk.json, &body));
        http::Headers headers;
        if (codec_ != Codec::kIdentity) headers.emplace_back("Content-Encoding", CodecName(codec_));
        BRAID_ASSIGN_OR_RETURN(
            const auto r,
            Send("POST", "/api/v1/sync/sessions/" + hello_.session + "/push", body, headers));
        if (r.status != 200) {
          if (next.valid()) next.wait();
          return AnswerError(remote_, r, "a push");
        }
        BRAID_ASSIGN_OR_RETURN(const PushResult result, ParsePushResult(r.body));
        if (rules_) BRAID_RETURN_IF_ERROR(KeepPushMarks(chunk));
        ++summary_.chunks_sent;
        summary_.sent += chunk.records;
        summary_.bytes_sent += body.size();
        summary_.conflicts += result.conflicts;
        p.records += chunk.records;
        p.bytes += body.size();
        BRAID_RETURN_IF_ERROR(Failpoint("push-sent"));
      }
      if (rules_ && chunk.records == 0 && !chunk.claims) {
        BRAID_RETURN_IF_ERROR(KeepPushMarks(chunk));  // all of it left out: nothing sent
      }
      summary_.left_out += chunk.records_left_out;
      p.seconds = Since(begun);
      p.done = !chunk.next;
      if (progress_) progress_(p);
      if (!chunk.next) return Status::OK();
    }
  }

  // After the remote took a chunk (or when it had nothing to send): the
  // remote's push marks move past it, its floors down to what it left out.
  Status KeepPushMarks(const EncodedChunk& chunk) {
    if (chunk.scanned_to.empty() && chunk.left_out.empty()) return Status::OK();
    BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite(Durability::kNormal));
    BRAID_RETURN_IF_ERROR(txn->MoveMarks(remote_.name, MarkKind::kPushFloor, chunk.left_out));
    BRAID_RETURN_IF_ERROR(txn->MoveMarks(remote_.name, MarkKind::kPush, chunk.scanned_to));
    return txn->Commit();
  }

  // Ends the session on the server. A session that transferred nothing is
  // left to expire there, so a sync with nothing to do is one round trip.
  void Close() {
    if (!hello_.session.empty() && (summary_.chunks_received > 0 || summary_.chunks_sent > 0)) {
      (void)Send("DELETE", "/api/v1/sync/sessions/" + hello_.session, {}, {});
    }
  }

  // Ends the session whatever it did.
  void End() {
    if (!hello_.session.empty())
      (void)Send("DELETE", "/api/v1/sync/sessions/" + hello_.session, {}, {});
  }

  void set_two_way(bool v) { two_way_ = v; }
  void set_rules(Rules rules) { rules_.emplace(std::move(rules)); }
  void set_dry_run(bool v) { summary_.dry_run = v; }
  const VersionVector& server_fsic() const { return hello_.fsic; }
  const std::string& authorization() const { return authorization_; }
  SyncSummary& summary() { return summary_; }

 private:
  static constexpr size_t kMaxChunkBytes = 256 * 1024 * 1024;

  Result<http::ClientResponse> Send(std::string_view method, const std::string& path,
                                    std::string_view body, http::Headers headers) {
    if (!authorization_.empty()) headers.emplace_back("Authorization", authorization_);
    headers.emplace_back("Content-Type", "application/json");
    auto r = client_->Send(method, remote_.url + path, body, headers);
    if (!r.ok()) {
      return r.status().WithContext(
          "remote \"" + remote_.name + "\" at " + remote_.url +
          (r.status().code() == Code::kUnavailable ? " (is `braid serve` running there?)" : ""));
    }
    return r;
  }

  void Count(const ApplyCounts& c) {
    summary_.applied += c.applied;
    summary_.merged += c.merged;
    summary_.kept += c.kept;
    summary_.ignored += c.ignored;
    summary_.held += c.held;
    summary_.conflicts += c.conflicts;
  }

  Store& store_;
  const Remote& remote_;
  std::unique_ptr<http::Client> client_;
  std::function<void(const SyncProgress&)> progress_;
  auth::Keyring* keyring_;
  std::string authorization_;  // of every request; none before a certificate session opens
  InstanceId server_id_;       // the server that proved its certificate
  std::vector<std::string> filter_;
  VersionVector own_fsic_;
  StreamSender::Bounds bounds_;
  HandshakeResponse hello_;
  Codec codec_ = Codec::kIdentity;
  bool two_way_ = false;
  std::optional<Rules> rules_;  // the remote's, when they shape its sessions
  SyncSummary summary_;
};

}  // namespace

Result<SyncSummary> Sync(Store& store, const Remote& remote,
                         const std::function<void(const SyncProgress&)>& progress,
                         auth::Keyring* keyring, SyncOptions options) {
  const auto start = Clock::now();
  const bool dry_run = options.dry_run;
  ImportSummary imported;
  if (options.imports && !dry_run && (remote.rules.import_settings || remote.rules.import_users)) {
    if (!remote.cert.empty() || remote.token.empty()) {
      return Status::InvalidArgument(
          "remote \"" + remote.name +
          "\": --import-settings and --import-users read its API, which needs a token or a "
          "user and password (remote set --token-file or --user)");
    }
    BRAID_ASSIGN_OR_RETURN(const std::string authorization,
                           ReadAuthorization(store, remote, keyring));
    BRAID_ASSIGN_OR_RETURN(imported, Import(store, remote, authorization));
  }
  BRAID_ASSIGN_OR_RETURN(std::vector<std::string> filter, NormalizeFilter(remote.filter));
  http::ClientOptions client_options;
  client_options.ca_cert = remote.ca_cert;
  BRAID_ASSIGN_OR_RETURN(auto client, http::Client::Create(client_options));
  const bool pull = remote.direction != Direction::kPush;
  const bool push = remote.direction != Direction::kPull && !dry_run;
  if (dry_run && !pull) {
    return Status::InvalidArgument("remote \"" + remote.name +
                                   "\" only receives pushes: a dry run shows what a pull would "
                                   "bring, and nothing is pulled from it");
  }
  Session session(store, remote, std::move(client), progress, keyring);
  session.set_dry_run(dry_run);
  session.set_two_way(pull && push);
  if (remote.rules.ShapesStream()) {
    BRAID_ASSIGN_OR_RETURN(const auto refs, store.References());
    session.set_rules(Rules(remote.rules, refs));
  }
  BRAID_RETURN_IF_ERROR(session.Open(pull, push, std::move(filter)));
  Status s;
  if (pull) s = session.PullAll();
  if (s.ok() && push) s = session.PushAll();
  session.Close();
  BRAID_RETURN_IF_ERROR(s);
  SyncSummary summary = session.summary();
  summary.remote = remote.name;
  summary.server_fsic = session.server_fsic();
  summary.imported = std::move(imported);
  summary.seconds = Since(start);
  return summary;
}

Result<std::string> ReadAuthorization(Store& store, const Remote& remote, auth::Keyring* keyring) {
  http::ClientOptions client_options;
  client_options.ca_cert = remote.ca_cert;
  BRAID_ASSIGN_OR_RETURN(auto client, http::Client::Create(client_options));
  Session session(store, remote, std::move(client), {}, keyring);
  if (remote.cert.empty()) return session.authorization();
  BRAID_ASSIGN_OR_RETURN(std::vector<std::string> filter, NormalizeFilter(remote.filter));
  BRAID_RETURN_IF_ERROR(session.Open(/*pull=*/true, /*push=*/false, std::move(filter)));
  return session.authorization();
}

Result<VersionVector> RemoteFsic(Store& store, const Remote& remote, auth::Keyring* keyring) {
  BRAID_ASSIGN_OR_RETURN(std::vector<std::string> filter, NormalizeFilter(remote.filter));
  http::ClientOptions client_options;
  client_options.ca_cert = remote.ca_cert;
  BRAID_ASSIGN_OR_RETURN(auto client, http::Client::Create(client_options));
  Session session(store, remote, std::move(client), {}, keyring);
  BRAID_RETURN_IF_ERROR(session.Open(remote.direction != Direction::kPush,
                                     remote.direction != Direction::kPull, std::move(filter)));
  VersionVector fsic = session.server_fsic();
  session.End();
  return fsic;
}

Result<VersionVector> WaitForChanges(const Remote& remote, const VersionVector& since,
                                     int64_t wait_ms) {
  if (!remote.cert.empty() || remote.token.empty()) {
    return Status::InvalidArgument("remote \"" + remote.name +
                                   "\" has no token or password to wait with");
  }
  BRAID_ASSIGN_OR_RETURN(std::vector<std::string> filter, NormalizeFilter(remote.filter));
  http::ClientOptions options;
  options.ca_cert = remote.ca_cert;
  options.authorization = remote.user.empty()
                              ? "Bearer " + remote.token
                              : "Basic " + Base64Encode(remote.user + ":" + remote.token);
  BRAID_ASSIGN_OR_RETURN(auto client, http::Client::Create(options));
  WaitRequest req;
  req.filter = std::move(filter);
  req.since = since;
  req.wait_ms = std::min(wait_ms, kMaxWaitMs);
  auto r = client->Send("POST", remote.url + "/api/v1/sync/wait", WaitRequestJson(req),
                        {{"Content-Type", "application/json"}});
  if (!r.ok()) {
    return r.status().WithContext("remote \"" + remote.name + "\" at " + remote.url);
  }
  if (r->status != 200) return AnswerError(remote, *r, "a wait for changes");
  return ParseWaitResponse(r->body);
}

std::string SummaryJson(const SyncSummary& s) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("remote")
      .String(s.remote)
      .Key("pulled")
      .Bool(s.pulled)
      .Key("pushed")
      .Bool(s.pushed)
      .Key("received")
      .Uint(s.received)
      .Key("sent")
      .Uint(s.sent)
      .Key("applied")
      .Uint(s.applied)
      .Key("merged")
      .Uint(s.merged)
      .Key("skipped")
      .Uint(s.ignored + s.kept)
      .Key("held")
      .Uint(s.held)
      .Key("conflicts")
      .Uint(s.conflicts)
      .Key("left_out")
      .Uint(s.left_out)
      .Key("dependencies")
      .Uint(s.dependencies)
      .Key("chunks_received")
      .Uint(s.chunks_received)
      .Key("chunks_sent")
      .Uint(s.chunks_sent)
      .Key("bytes_received")
      .Uint(s.bytes_received)
      .Key("bytes_sent")
      .Uint(s.bytes_sent)
      .Key("seconds")
      .Double(s.seconds);
  if (s.imported.ran) w.Key("imported").Raw(ImportSummaryJson(s.imported));
  if (s.dry_run) {
    w.Key("dry_run").Bool(true).Key("collections").BeginObject();
    for (const auto& [name, p] : s.preview) {
      w.Key(name)
          .BeginObject()
          .Key("created")
          .Uint(p.created)
          .Key("updated")
          .Uint(p.updated)
          .Key("unchanged")
          .Uint(p.unchanged)
          .Key("held")
          .Uint(p.held)
          .Key("left_out")
          .Uint(p.left_out)
          .EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
  return out;
}

}  // namespace braid::repl
