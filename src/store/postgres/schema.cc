// The PostgreSQL layout (docs/storage.md, "PostgreSQL"; keep the two in
// step). Its base holds what SQLite's schema 7 holds, table for table, with
// PostgreSQL's types: text keys compare as bytes (COLLATE "C", the order
// ids, cursors and pagination use), blobs are bytea. records.rid is
// assigned by the write transaction from state.rid (it holds the state
// row), so a transaction can send its new rows in bulk without asking for
// their ids.
//
// Later layouts come as migrations numbered as SQLite's are (a change of
// the store's semantics changes both backends at one schema version):
// schema.h has the rules.

#include "store/postgres/schema.h"

namespace braid::postgres {
namespace {

const char* const kSchema = R"sql(
CREATE TABLE meta(
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE state(
  k       INTEGER PRIMARY KEY CHECK (k = 1),
  self    INTEGER NOT NULL,
  epoch   BIGINT NOT NULL,
  counter BIGINT NOT NULL,
  seq     BIGINT NOT NULL,
  hlc     BIGINT NOT NULL,
  horizon BIGINT NOT NULL,
  rid     BIGINT NOT NULL    -- the last records.rid assigned
);

CREATE TABLE instances(
  num INTEGER PRIMARY KEY,
  id  BYTEA NOT NULL UNIQUE
);

CREATE TABLE records(
  rid        BIGINT PRIMARY KEY,
  collection TEXT COLLATE "C" NOT NULL,
  id         TEXT COLLATE "C" NOT NULL,
  partition  TEXT COLLATE "C",
  parent     TEXT COLLATE "C",
  deleted    BOOLEAN NOT NULL,
  origin     INTEGER NOT NULL,
  counter    BIGINT NOT NULL,
  vv         BYTEA,
  hlc        BIGINT NOT NULL,
  clocks     BYTEA,
  body       TEXT NOT NULL,
  conflicts  TEXT,
  UNIQUE (collection, id)
);
CREATE INDEX records_with_conflicts ON records(collection, id) WHERE conflicts IS NOT NULL;

CREATE TABLE versions(
  origin  INTEGER NOT NULL,
  counter BIGINT NOT NULL,
  rid     BIGINT NOT NULL,
  PRIMARY KEY (origin, counter)
);

CREATE TABLE fsic(
  prefix  TEXT COLLATE "C" NOT NULL,
  origin  INTEGER NOT NULL,
  counter BIGINT NOT NULL,
  PRIMARY KEY (prefix, origin)
);

CREATE TABLE held(
  collection TEXT COLLATE "C" NOT NULL,
  id         TEXT COLLATE "C" NOT NULL,
  origin     BYTEA NOT NULL,
  counter    BIGINT NOT NULL,
  record     TEXT NOT NULL,
  PRIMARY KEY (collection, id, origin, counter)
);

CREATE TABLE collections(
  name   TEXT COLLATE "C" PRIMARY KEY,
  policy TEXT NOT NULL,
  search TEXT,
  refs   TEXT
);

CREATE TABLE remotes(
  name         TEXT COLLATE "C" PRIMARY KEY,
  url          TEXT NOT NULL,
  direction    TEXT NOT NULL,
  filter       TEXT NOT NULL,
  chunk_size   BIGINT NOT NULL,
  token        TEXT NOT NULL,
  last_sync_at BIGINT,
  last_result  TEXT,
  ca_cert      TEXT NOT NULL DEFAULT '',
  "user"       TEXT NOT NULL DEFAULT '',
  cert         TEXT NOT NULL DEFAULT '',
  rules        TEXT NOT NULL DEFAULT '{}',
  failures     BIGINT NOT NULL DEFAULT 0,
  next_sync_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE tokens(
  name       TEXT COLLATE "C" PRIMARY KEY,
  sha256     BYTEA NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  role       TEXT NOT NULL DEFAULT 'writer',
  scope      TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE users(
  name       TEXT COLLATE "C" PRIMARY KEY,
  role       TEXT NOT NULL,
  scope      TEXT NOT NULL,
  password   TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  source     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE certificates(
  serial     TEXT COLLATE "C" PRIMARY KEY,
  issuer     TEXT NOT NULL,
  text       TEXT NOT NULL,
  signed_for TEXT NOT NULL,
  stored_at  BIGINT NOT NULL,
  key        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX certificates_by_key ON certificates(key);

CREATE TABLE revocations(
  serial    TEXT COLLATE "C" PRIMARY KEY,
  text      TEXT NOT NULL,
  stored_at BIGINT NOT NULL
);

CREATE TABLE changes(
  seq        BIGINT PRIMARY KEY,
  rid        BIGINT NOT NULL,
  op         SMALLINT NOT NULL,
  collection TEXT COLLATE "C" NOT NULL,
  parent     TEXT COLLATE "C",
  at         BIGINT NOT NULL
);
CREATE INDEX changes_by_parent ON changes(parent, seq) WHERE parent IS NOT NULL;

CREATE TABLE blob_refs(
  sha256 TEXT COLLATE "C" NOT NULL,
  rid    BIGINT NOT NULL,
  name   TEXT COLLATE "C" NOT NULL,
  size   BIGINT NOT NULL,
  md5    TEXT NOT NULL,
  PRIMARY KEY (sha256, rid, name)
);
CREATE INDEX blob_refs_by_rid ON blob_refs(rid);

CREATE TABLE blob_dropped(
  sha256 TEXT COLLATE "C" PRIMARY KEY
);

CREATE TABLE steps(
  step     TEXT COLLATE "C" PRIMARY KEY,
  started  BIGINT NOT NULL,
  finished BIGINT NOT NULL,
  ok       BOOLEAN NOT NULL,
  result   TEXT NOT NULL,
  cursor   BIGINT NOT NULL,
  last_ok  BIGINT NOT NULL
);

CREATE TABLE rule_marks(
  remote  TEXT COLLATE "C" NOT NULL,
  kind    TEXT COLLATE "C" NOT NULL,
  origin  INTEGER NOT NULL,
  counter BIGINT NOT NULL,
  PRIMARY KEY (remote, kind, origin)
);
)sql";

}  // namespace

const PgMigration kPgMigrations[kPgMigrationCount] = {
    {8,
     "sync_sessions (the replication sessions peers have open, so that any process serving the "
     "store goes on with them) and sync_challenges (the challenges of certificate sessions)",
     R"sql(
CREATE TABLE sync_sessions(
  key        TEXT COLLATE "C" PRIMARY KEY,
  owner      TEXT NOT NULL,
  scope      TEXT NOT NULL,
  chain      TEXT,
  peer       BYTEA NOT NULL,
  direction  TEXT NOT NULL,
  filter     TEXT NOT NULL,
  chunk_size BIGINT NOT NULL,
  codec      TEXT NOT NULL,
  peer_fsic  TEXT NOT NULL,
  own_fsic   TEXT NOT NULL,
  ends       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  used_at    BIGINT NOT NULL
);
CREATE INDEX sync_sessions_by_use ON sync_sessions(used_at);
CREATE TABLE sync_challenges(
  id           TEXT COLLATE "C" PRIMARY KEY,
  root         TEXT NOT NULL,
  client_nonce BYTEA NOT NULL,
  server_nonce BYTEA NOT NULL,
  made_at      BIGINT NOT NULL
);
CREATE INDEX sync_challenges_by_age ON sync_challenges(made_at);
)sql"},
};

Status CreateSchema(pg::Conn& conn) {
  BRAID_RETURN_IF_ERROR(conn.Exec(kSchema));
  for (const PgMigration& m : kPgMigrations) BRAID_RETURN_IF_ERROR(conn.Exec(m.sql));
  return Status::OK();
}

}  // namespace braid::postgres
