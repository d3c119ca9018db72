// Replication wire messages (docs/protocol.md, "Replication"): the session
// handshake, pull and push chunks, and their JSON forms.
//
// A session has one filter (partition prefixes) and covers a pull (server ->
// client), a push (client -> server), or both. Each side announces its FSIC
// for the filter. A sender streams, origin by origin in instance-id order,
// the records whose version vector includes a write of that origin after
// the receiver's FSIC, in counter order; a chunk says, per origin it
// touched, up to which counter the receiver is now complete (never above
// the sender's FSIC from the session start, below which positions are stable).

#ifndef BRAID_REPL_PROTOCOL_H_
#define BRAID_REPL_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "braid/catalog.h"
#include "braid/record.h"
#include "braid/status.h"
#include "repl/proof.h"

namespace braid::repl {

inline constexpr int kProtocol = 1;

// A session's first chunks are smaller than its chunk size: the first holds
// at most kFirstChunkRecords, each next one at most twice the one before,
// up to the chunk size. The receiver waits for the first chunk, and then
// applies each chunk while the sender builds the next, which takes the
// sender about half as long per record: with the ramp the first chunk is
// built by the time the handshake's answer arrives, and each next one by
// the time the one before is applied. `chunks_sent`: chunks of the session
// before this one.
inline constexpr size_t kFirstChunkRecords = 2500;
size_t RampedChunkSize(size_t chunk_size, size_t chunks_sent);

struct HandshakeRequest {
  int protocol = kProtocol;
  InstanceId instance_id;  // the client
  Direction direction = Direction::kBoth;
  std::vector<std::string> filter;  // normalized partition prefixes; empty: all
  VersionVector fsic;               // the client's FSIC for the filter
  size_t chunk_size = 500;
  std::vector<std::string> compression;  // codecs the client accepts, preferred first
  // Set for a certificate session (proof.h); else the request's credentials
  // say who opens it.
  std::optional<CertificateProof> certificate;
  // Set: the client passes revocations on (its keyring's digest); the
  // answer then carries the server's.
  std::optional<std::string> revocations_digest;
};

struct HandshakeResponse {
  std::string session;  // opaque id for the session's requests
  int protocol = kProtocol;
  InstanceId instance_id;  // the server
  VersionVector fsic;      // the server's FSIC for the filter
  std::string compression = "identity";
  size_t chunk_size = 500;
  uint64_t pull_pending = 0;  // version entries the server would stream (an upper bound)
  // Only when the request had a digest: the server's, and its revocations
  // when the digests differ.
  std::optional<std::string> revocations_digest;
  std::vector<std::string> revocations;
};

// A stream position: after `counter` in `origin`'s stream.
struct Position {
  InstanceId origin;
  uint64_t counter = 0;
  bool operator==(const Position&) const = default;
};

struct Chunk {
  std::vector<Record> records;
  // Per origin touched: the receiver holds every write of it up to this.
  std::vector<std::pair<InstanceId, uint64_t>> complete_to;
  std::optional<Position> next;  // absent: the stream is done
  uint64_t pending = 0;          // entries left after this chunk (estimate)
};

struct PushResult {
  uint64_t applied = 0, merged = 0, kept = 0, ignored = 0, held = 0, conflicts = 0;
};

inline constexpr size_t kMaxFilterPrefixes = 1024;
// Normalizes a filter: validates each prefix, sorts, drops duplicates and
// prefixes covered by another one. Errors: InvalidArgument (also for more
// than kMaxFilterPrefixes).
Result<std::vector<std::string>> NormalizeFilter(std::vector<std::string> prefixes);

std::string HandshakeRequestJson(const HandshakeRequest& r);
Result<HandshakeRequest> ParseHandshakeRequest(std::string_view body);
std::string HandshakeResponseJson(const HandshakeResponse& r);
Result<HandshakeResponse> ParseHandshakeResponse(std::string_view body);

std::string PositionJson(const std::optional<Position>& p);  // {"after":...}
Result<std::optional<Position>> ParsePullRequest(std::string_view body);

// POST /api/v1/sync/wait: answers when this server's FSIC for `filter`
// has an entry above `since` (the FSIC the client saw at its last
// session), or after `wait_ms` (at most kMaxWaitMs): {"fsic": {...}}. A
// live remote's long-poll (docs/remotes.md, "Live sync").
inline constexpr int64_t kMaxWaitMs = 60000;
struct WaitRequest {
  std::vector<std::string> filter;
  VersionVector since;
  int64_t wait_ms = 0;
};
std::string WaitRequestJson(const WaitRequest& r);
// Errors: InvalidArgument.
Result<WaitRequest> ParseWaitRequest(std::string_view body);
std::string WaitResponseJson(const VersionVector& fsic);
Result<VersionVector> ParseWaitResponse(std::string_view body);

// POST .../sessions/ID/records: records by name, outside the stream (the
// dependencies a remote's rules import; docs/protocol.md, "Records by
// name"): {"names": [["collection", "id"], ...]}, at most kMaxNames.
inline constexpr size_t kMaxNames = 1000;
std::string NamesRequestJson(const std::vector<std::pair<std::string, std::string>>& names);
// Errors: InvalidArgument (shape, names, more than kMaxNames).
Result<std::vector<std::pair<std::string, std::string>>> ParseNamesRequest(std::string_view body);

std::string ChunkJson(const Chunk& c);
// The same text for records already in their wire form (WireRecordJson).
std::string ChunkJson(const std::vector<std::string_view>& wire_records,
                      const std::vector<std::pair<InstanceId, uint64_t>>& complete_to,
                      const std::optional<Position>& next, uint64_t pending);

// Reads a chunk received from a peer front to back, in one pass, handing
// its records over in batches so a receiver can apply some while it reads
// the next (StreamReceiver::ApplyText). Each record is checked for shape
// and its body is validated and minified as it is read (ReadWireRecord);
// the rest is checked when applied. The text must outlive the reader.
// Errors: InvalidArgument ("malformed chunk: ..."); after one, stop.
class ChunkReader {
 public:
  explicit ChunkReader(std::string_view body) : in_(body) {}

  // Appends up to `n` more records to *out. Returns true while more may
  // follow, false once the records are all read.
  Result<bool> Next(size_t n, std::vector<Record>* out);

  // Reads what follows the records and returns the chunk without them
  // Call after Next returned false.
  Result<Chunk> Finish();

 private:
  // Reads members until the records array opens or the chunk ends.
  Status ToRecords();
  Status Member(std::string_view key);

  json::Reader in_;
  Chunk envelope_;
  enum class State { kStart, kRecords, kAfterRecords } state_ = State::kStart;
  bool has_records_ = false, has_next_ = false;
  size_t count_ = 0;
};

// Reads a whole chunk with a ChunkReader.
Result<Chunk> ParseChunk(std::string_view body);

std::string PushResultJson(const PushResult& r);
Result<PushResult> ParsePushResult(std::string_view body);

}  // namespace braid::repl

#endif  // BRAID_REPL_PROTOCOL_H_
