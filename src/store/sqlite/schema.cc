#include "store/sqlite/schema.h"

namespace braid::sqlite {

// The layout is described in docs/storage.md; keep the two in step.
const char* const kSchemaV1 = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE state(
  k       INTEGER PRIMARY KEY CHECK (k = 1),
  self    INTEGER NOT NULL,   -- instances.num of this instance
  epoch   INTEGER NOT NULL,   -- identity of the change log, in delta cursors
  counter INTEGER NOT NULL,   -- last record version counter issued by self
  seq     INTEGER NOT NULL,   -- last change-log seq
  hlc     INTEGER NOT NULL,   -- greatest HLC issued or observed
  horizon INTEGER NOT NULL    -- highest seq removed by compaction
);

CREATE TABLE instances(
  num INTEGER PRIMARY KEY,
  id  BLOB NOT NULL UNIQUE    -- 16 bytes
);

CREATE TABLE records(
  rid        INTEGER PRIMARY KEY,
  collection TEXT NOT NULL,
  id         TEXT NOT NULL,
  partition  TEXT,              -- NULL: the collection (the default)
  parent     TEXT,
  deleted    INTEGER NOT NULL,
  origin     INTEGER NOT NULL,  -- instances.num of the version's writer
  counter    INTEGER NOT NULL,
  vv         BLOB,              -- local version vector (codec.h); NULL: {origin: counter}
  hlc        INTEGER NOT NULL,
  clocks     BLOB,              -- field writes, compact form (content.h); NULL when none
  body       TEXT NOT NULL,
  conflicts  TEXT,              -- conflict entries JSON array; NULL when none
  UNIQUE (collection, id)
);
CREATE INDEX records_with_conflicts ON records(collection, id) WHERE conflicts IS NOT NULL;

-- One row per version-vector entry of every record: (origin, counter) is
-- the write of `origin` that record `rid` includes. Replication streams an
-- origin's writes after a counter as a range scan of this key.
CREATE TABLE versions(
  origin  INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  rid     INTEGER NOT NULL,
  PRIMARY KEY (origin, counter)
) WITHOUT ROWID;

-- Filter-specific instance counters: for partition prefix `prefix` ("" is
-- everything), this store holds every write of `origin` up to `counter`.
CREATE TABLE fsic(
  prefix  TEXT NOT NULL,
  origin  INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  PRIMARY KEY (prefix, origin)
) WITHOUT ROWID;

-- Versions the skip policy keeps aside until a person resolves the record.
CREATE TABLE held(
  collection TEXT NOT NULL,
  id         TEXT NOT NULL,
  origin     BLOB NOT NULL,     -- 16-byte instance id
  counter    INTEGER NOT NULL,
  record     TEXT NOT NULL,     -- the version in its wire form (docs/protocol.md)
  PRIMARY KEY (collection, id, origin, counter)
) WITHOUT ROWID;

CREATE TABLE collections(
  name   TEXT PRIMARY KEY,
  policy TEXT NOT NULL          -- merge, lww, skip, remote-wins, local-wins
) WITHOUT ROWID;

CREATE TABLE remotes(
  name         TEXT PRIMARY KEY,
  url          TEXT NOT NULL,
  direction    TEXT NOT NULL,   -- pull, push, both
  filter       TEXT NOT NULL,   -- JSON array of partition prefixes
  chunk_size   INTEGER NOT NULL,
  token        TEXT NOT NULL,
  last_sync_at INTEGER,
  last_result  TEXT
) WITHOUT ROWID;

CREATE TABLE tokens(
  name       TEXT PRIMARY KEY,
  sha256     BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE changes(
  seq        INTEGER PRIMARY KEY,
  rid        INTEGER NOT NULL,  -- records.rid
  op         INTEGER NOT NULL,  -- 1 create, 2 update, 3 delete
  collection TEXT NOT NULL,
  parent     TEXT,
  at         INTEGER NOT NULL   -- ms, non-decreasing with seq (HLC time)
);
-- Parent feeds (Joplin's folders) are indexed; collection feeds scan a
-- bounded window of the log per page instead of paying an index per write.
CREATE INDEX changes_by_parent ON changes(parent, seq) WHERE parent IS NOT NULL;
)sql";

const Migration kMigrations[kMigrationCount] = {
    {2,
     "state.unsynced_boot: the boot id under which commits at durability normal issued versions "
     "or seqs not yet synced",
     R"sql(
-- NULL when every version and change-log seq issued is on stable storage;
-- else the boot id of the machine when commits at durability normal issued
-- some that may not be (docs/storage.md, "Durability").
ALTER TABLE state ADD COLUMN unsynced_boot TEXT;
)sql"},
    {3,
     "users (accounts with a role, a partition scope and a scrypt password hash); tokens get a "
     "role and a scope (existing tokens: writer, every partition, as they could pull and push); "
     "remotes get a CA certificate file for https and a user name for HTTP Basic",
     R"sql(
CREATE TABLE users(
  name       TEXT PRIMARY KEY,
  role       TEXT NOT NULL,     -- admin, writer, reader
  scope      TEXT NOT NULL,     -- JSON array of partition prefixes; [] = every partition
  password   TEXT NOT NULL,     -- scrypt$N$r$p$salt$hash (src/auth/password.h)
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'writer';
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '[]';
ALTER TABLE remotes ADD COLUMN ca_cert TEXT NOT NULL DEFAULT '';  -- PEM file; '' = system CAs
ALTER TABLE remotes ADD COLUMN user TEXT NOT NULL DEFAULT '';     -- set: token is its password
)sql"},
    {4,
     "certificates (this instance's, its issuers', those it signed) and revocations; remotes get "
     "the serial of the certificate their sessions prove (none: token or password as before)",
     R"sql(
CREATE TABLE certificates(
  serial     TEXT PRIMARY KEY,  -- 32 hex digits
  issuer     TEXT NOT NULL,     -- the issuer's serial; serial itself for a root
  text       TEXT NOT NULL,     -- canonical encoding (docs/protocol.md, "Certificates")
  signed_for TEXT NOT NULL,     -- 'user NAME' when signed here on request; else ''
  stored_at  INTEGER NOT NULL,
  key        TEXT NOT NULL      -- the public key it binds (base64url): an instance's own
) WITHOUT ROWID;
CREATE INDEX certificates_by_key ON certificates(key);
CREATE TABLE revocations(
  serial    TEXT PRIMARY KEY,   -- the revoked certificate's
  text      TEXT NOT NULL,      -- the signed revocation, checked before it was stored
  stored_at INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE remotes ADD COLUMN cert TEXT NOT NULL DEFAULT '';  -- serial of our certificate; '' = none
)sql"},
    {5,
     "blob_refs (the blobs each live record's \"_attachments\" names, filled from the records "
     "there are), blob_dropped (blobs writes stopped naming, for the attachments step) and "
     "steps (the last run of each mirror step)",
     R"sql(
-- One row per attachment of a live record, kept by every write.
CREATE TABLE blob_refs(
  sha256 TEXT NOT NULL,         -- lowercase hex
  rid    INTEGER NOT NULL,      -- records.rid
  name   TEXT NOT NULL,         -- the attachment's name
  size   INTEGER NOT NULL,
  md5    TEXT NOT NULL,
  PRIMARY KEY (sha256, rid, name)
) WITHOUT ROWID;
CREATE INDEX blob_refs_by_rid ON blob_refs(rid);
-- Blobs a write stopped naming; the attachments step removes those no
-- record names any more, then forgets them.
CREATE TABLE blob_dropped(
  sha256 TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE steps(
  step     TEXT PRIMARY KEY,    -- cache, index, attachments
  started  INTEGER NOT NULL,    -- ms
  finished INTEGER NOT NULL,
  ok       INTEGER NOT NULL,
  result   TEXT NOT NULL,       -- JSON summary, or {"error": ...}
  cursor   INTEGER NOT NULL,    -- change-log seq the step has dealt with
  last_ok  INTEGER NOT NULL     -- finish of the last successful run; 0: never
) WITHOUT ROWID;
-- The attachments of the records there are (checked as the attachments
-- step will need them; lists that are not are left out, as writes do).
INSERT OR IGNORE INTO blob_refs(sha256, rid, name, size, md5)
SELECT json_extract(j.value, '$.sha256'), r.rid, j.key, json_extract(j.value, '$.size'),
       json_extract(j.value, '$.md5')
FROM records r, json_each(r.body, '$._attachments') j
WHERE r.deleted = 0 AND instr(r.body, '"_attachments"') > 0
  AND json_type(r.body, '$._attachments') = 'object'
  AND json_type(j.value, '$.sha256') = 'text' AND length(json_extract(j.value, '$.sha256')) = 64
  AND json_extract(j.value, '$.sha256') NOT GLOB '*[^0-9a-f]*'
  AND json_type(j.value, '$.md5') = 'text' AND json_type(j.value, '$.size') = 'integer'
  AND json_extract(j.value, '$.size') >= 0;
)sql"},
    {6, "collections.search: the fields and weights of the search index per collection",
     R"sql(
-- "title:3,abstract:1" (src/index/text.h); NULL: every string field.
ALTER TABLE collections ADD COLUMN search TEXT;
)sql"},
    {7,
     "remote rules (prefixes, collection lists, conflict overrides, imports, auto-sync) and the "
     "auto-sync state of each remote; collection references; users imported from a remote; "
     "rule_marks (where a remote's rule-shaped sessions stopped, and the writes they left out)",
     R"sql(
-- A JSON object (include/braid/catalog.h, RulesJson); '{}': no rules.
ALTER TABLE remotes ADD COLUMN rules TEXT NOT NULL DEFAULT '{}';
ALTER TABLE remotes ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;  -- failed auto-syncs in a row
ALTER TABLE remotes ADD COLUMN next_sync_at INTEGER NOT NULL DEFAULT 0;  -- ms; 0: none scheduled
-- A JSON array of "FIELD=COLLECTION" / "FIELD[]=COLLECTION"; NULL: none.
ALTER TABLE collections ADD COLUMN refs TEXT;
-- The remote a user was imported from; '': made here.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT '';
-- Per remote whose rules shape its sessions (docs/remotes.md): kind
-- 'pull'/'push' is how far its sessions have gone in origin's stream (they
-- start there); 'pull-floor' the lowest write of origin its pulls left out
-- (this store's FSIC stays below it); 'push-floor' the same for its pushes
-- (what is claimed complete to that remote stays below it).
CREATE TABLE rule_marks(
  remote  TEXT NOT NULL,
  kind    TEXT NOT NULL,
  origin  INTEGER NOT NULL,      -- instances.num
  counter INTEGER NOT NULL,
  PRIMARY KEY (remote, kind, origin)
) WITHOUT ROWID;
)sql"},
    {8,
     "sync_sessions (the replication sessions peers have open, so that any process serving the "
     "store, or this one restarted, goes on with them) and sync_challenges (the challenges of "
     "certificate sessions)",
     R"sql(
-- A session a peer opened (docs/protocol.md, "Session"): what its handshake
-- settled and the bounds of its pull streams, read then.
CREATE TABLE sync_sessions(
  key        TEXT PRIMARY KEY,  -- SHA-256 (hex) of the session's id, a credential
  owner      TEXT NOT NULL,     -- who opened it: "token lab-b", "certificate <serial>"
  scope      TEXT NOT NULL,     -- JSON array: the opener's partition scope; [] = every partition
  chain      TEXT,              -- a certificate session's chain (JSON array); NULL otherwise
  peer       BLOB NOT NULL,     -- the peer's 16-byte instance id
  direction  TEXT NOT NULL,     -- pull, push, both
  filter     TEXT NOT NULL,     -- JSON array of partition prefixes; [] = everything
  chunk_size INTEGER NOT NULL,
  codec      TEXT NOT NULL,     -- identity, zstd, gzip
  peer_fsic  TEXT NOT NULL,     -- the peer's FSIC for the filter: {"<hex>": counter}
  own_fsic   TEXT NOT NULL,     -- this store's FSIC for the filter at the handshake
  ends       TEXT NOT NULL,     -- {"<hex>": counter}: each instance known then, where its stream ended
  created_at INTEGER NOT NULL,  -- ms
  used_at    INTEGER NOT NULL   -- ms; written at most about once a minute
);
CREATE INDEX sync_sessions_by_use ON sync_sessions(used_at);
-- A challenge of a certificate session's handshake: used once, within a minute.
CREATE TABLE sync_challenges(
  id           TEXT PRIMARY KEY,  -- 32 hex digits
  root         TEXT NOT NULL,     -- the dataset's root serial the client named
  client_nonce BLOB NOT NULL,
  server_nonce BLOB NOT NULL,
  made_at      INTEGER NOT NULL   -- ms
) WITHOUT ROWID;
CREATE INDEX sync_challenges_by_age ON sync_challenges(made_at);
)sql"},
};

}  // namespace braid::sqlite
