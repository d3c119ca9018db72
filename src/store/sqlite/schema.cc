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
  clocks     TEXT,              -- field clocks JSON, NULL when none differ
  body       TEXT NOT NULL,
  UNIQUE (collection, id)
);
-- Replication selects "versions of origin X after counter c" as a range
-- scan of this index.
CREATE INDEX records_by_version ON records(origin, counter);

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

}  // namespace braid::sqlite
