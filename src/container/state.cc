#include "container/state.h"

#include <cstdlib>
#include <filesystem>

#include "base/json.h"
#include "base/validate.h"

namespace braid::container {
namespace {

using sqlite::Db;
using sqlite::Stmt;

constexpr int64_t kFormat = 2;
constexpr int64_t kApplicationId = 0x62726343;  // "brcC"
constexpr auto kBusyTimeout = std::chrono::milliseconds(10'000);

constexpr char kSchema[] = R"sql(
CREATE TABLE containers(
  name       TEXT PRIMARY KEY,
  dir        TEXT NOT NULL,
  collection TEXT NOT NULL,
  patterns   TEXT NOT NULL,     -- {"globs":[...],"excludes":[...],"sidecar":"..."}
  created_ms INTEGER NOT NULL,
  last_pass  TEXT               -- the last pass's JSON summary
) WITHOUT ROWID;
CREATE TABLE files(
  container     TEXT NOT NULL,
  path          BLOB NOT NULL,  -- relative, bytes as on disk
  size          INTEGER NOT NULL,
  mtime_ns      INTEGER NOT NULL,
  ino           INTEGER NOT NULL,
  ctime_ns      INTEGER NOT NULL,
  side_size     INTEGER,        -- the metadata sidecar's stat; NULL: none
  side_mtime_ns INTEGER,
  side_ino      INTEGER,
  side_ctime_ns INTEGER,
  sha256        TEXT NOT NULL,
  begin_time    TEXT,           -- from the metadata, for the summary
  end_time      TEXT,
  west REAL, south REAL, east REAL, north REAL,
  PRIMARY KEY (container, path)
) WITHOUT ROWID;
)sql";

// Format 2: checkouts (container/checkout.h), and what makes a container's
// totals cost the changes: its file count and bytes kept up to date, the
// extents found through partial indexes (only files with metadata).
constexpr char kFormat2[] = R"sql(
CREATE TABLE totals(
  container TEXT PRIMARY KEY,
  files     INTEGER NOT NULL,
  bytes     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX files_begin ON files(container, begin_time) WHERE begin_time IS NOT NULL;
CREATE INDEX files_end ON files(container, end_time) WHERE end_time IS NOT NULL;
CREATE INDEX files_west ON files(container, west) WHERE west IS NOT NULL;
CREATE INDEX files_south ON files(container, south) WHERE south IS NOT NULL;
CREATE INDEX files_east ON files(container, east) WHERE east IS NOT NULL;
CREATE INDEX files_north ON files(container, north) WHERE north IS NOT NULL;
CREATE TABLE checkouts(
  name       TEXT PRIMARY KEY,  -- the container's name
  dir        TEXT NOT NULL,
  collection TEXT NOT NULL,
  cursor     INTEGER NOT NULL,  -- the change-log seq dealt with
  last_run   TEXT               -- the last run's JSON summary
) WITHOUT ROWID;
CREATE TABLE checkout_files(
  name     TEXT NOT NULL,
  id       TEXT NOT NULL,       -- the file's record
  path     BLOB NOT NULL,       -- relative, bytes as on disk
  sha256   TEXT NOT NULL,       -- what was written
  size     INTEGER NOT NULL,    -- the file's stat right after it was written
  mtime_ns INTEGER NOT NULL,
  ino      INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  PRIMARY KEY (name, id)
) WITHOUT ROWID;
)sql";

std::string PatternsJson(const WalkOptions& w, bool content_blobs) {
  std::string out;
  json::Writer j(&out);
  j.BeginObject().Key("globs").BeginArray();
  for (const auto& g : w.globs) j.String(g);
  j.EndArray().Key("excludes").BeginArray();
  for (const auto& e : w.excludes) j.String(e);
  j.EndArray().Key("sidecar").String(w.sidecar_suffix);
  j.Key("content").String(content_blobs ? "blobs" : "none").EndObject();
  return out;
}

Result<WalkOptions> ParsePatterns(std::string_view text, bool* content_blobs) {
  std::string minified;
  BRAID_RETURN_IF_ERROR(json::Validate(text, &minified).WithContext("container patterns"));
  const json::Value v(minified);
  WalkOptions w;
  auto strings = [&](std::string_view key, std::vector<std::string>* out) {
    if (auto a = v.Find(key)) {
      a->ForEachElement([&](json::Value e) {
        if (auto s = e.AsString()) out->push_back(*s);
        return true;
      });
    }
  };
  strings("globs", &w.globs);
  strings("excludes", &w.excludes);
  if (auto s = v.Find("sidecar")) w.sidecar_suffix = s->AsString().value_or("");
  auto content = v.Find("content");
  *content_blobs = content && content->AsString() == "blobs";
  return w;
}

ContainerSpec DecodeSpec(const Stmt& s, WalkOptions walk, bool content_blobs) {
  ContainerSpec c;
  c.name = std::string(s.Text(0));
  c.dir = std::string(s.Text(1));
  c.collection = std::string(s.Text(2));
  c.walk = std::move(walk);
  c.content_blobs = content_blobs;
  c.created_ms = s.Int(4);
  c.last_pass = s.OptionalText(5).value_or("");
  return c;
}

std::optional<FileStat> OptionalStat(const Stmt& s, int col) {
  if (s.IsNull(col)) return std::nullopt;
  return FileStat{static_cast<uint64_t>(s.Int(col)), s.Int(col + 1),
                  static_cast<uint64_t>(s.Int(col + 2)), s.Int(col + 3)};
}

FileRow DecodeRow(const Stmt& s) {
  FileRow row;
  row.path = std::string(s.Blob(0));
  row.stat = {static_cast<uint64_t>(s.Int(1)), s.Int(2), static_cast<uint64_t>(s.Int(3)), s.Int(4)};
  row.sidecar = OptionalStat(s, 5);
  row.sha256 = std::string(s.Text(9));
  return row;
}

class SnapshotCursor : public ContainerState::Cursor {
 public:
  // Rows with from <= path < to (to: none when empty).
  static Result<std::unique_ptr<ContainerState::Cursor>> Open(const std::string& path,
                                                              const std::string& name,
                                                              const std::string& from = "",
                                                              const std::string& to = "") {
    BRAID_ASSIGN_OR_RETURN(auto db, Db::Open(path, /*create=*/false, kBusyTimeout));
    BRAID_RETURN_IF_ERROR(db->Exec("BEGIN"));
    std::unique_ptr<SnapshotCursor> c(new SnapshotCursor(std::move(db), name));
    BRAID_ASSIGN_OR_RETURN(Stmt s,
                           c->db_->Prepare("SELECT path, size, mtime_ns, ino, ctime_ns, side_size, "
                                           "side_mtime_ns, side_ino, side_ctime_ns, sha256 "
                                           "FROM files WHERE container = ? AND path >= ? "
                                           "AND (?3 = x'' OR path < ?3) ORDER BY path"));
    c->from_ = from;
    c->to_ = to;
    c->stmt_.emplace(std::move(s));
    c->stmt_->Bind(1, std::string_view(c->name_)).BindBlob(2, c->from_).BindBlob(3, c->to_);
    return std::unique_ptr<ContainerState::Cursor>(std::move(c));
  }
  ~SnapshotCursor() override {
    stmt_.reset();
    (void)db_->Exec("COMMIT");
  }

  Result<bool> Next(FileRow* row) override {
    BRAID_ASSIGN_OR_RETURN(const bool more, stmt_->Step());
    if (!more) return false;
    *row = DecodeRow(*stmt_);
    return true;
  }

 private:
  SnapshotCursor(std::unique_ptr<Db> db, std::string name)
      : db_(std::move(db)), name_(std::move(name)) {}
  std::unique_ptr<Db> db_;
  std::string name_, from_, to_;
  std::optional<Stmt> stmt_;
};

}  // namespace

Status ValidateSpec(const ContainerSpec& spec) {
  BRAID_RETURN_IF_ERROR(ValidateCollection(spec.name).WithContext("container name"));
  BRAID_RETURN_IF_ERROR(ValidateCollection(spec.collection));
  if (spec.dir.empty() || spec.dir.front() != '/') {
    return Status::InvalidArgument("the container's folder must be an absolute path");
  }
  for (const auto* list : {&spec.walk.globs, &spec.walk.excludes}) {
    for (const std::string& p : *list) BRAID_RETURN_IF_ERROR(ValidatePattern(p));
  }
  const std::string& suffix = spec.walk.sidecar_suffix;
  if (suffix.size() > 64 || suffix.find('/') != std::string::npos ||
      suffix.find('\0') != std::string::npos) {
    return Status::InvalidArgument("metadata suffix \"" + suffix + "\": at most 64 bytes, no '/'");
  }
  return Status::OK();
}

Result<std::unique_ptr<ContainerState>> ContainerState::Open(const std::string& data_dir) {
  const std::string path = data_dir + "/containers.db";
  BRAID_ASSIGN_OR_RETURN(auto db, Db::Open(path, /*create=*/true, kBusyTimeout));
  BRAID_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"));
  BRAID_ASSIGN_OR_RETURN(const int64_t app, db->QueryInt("PRAGMA application_id"));
  BRAID_ASSIGN_OR_RETURN(const int64_t version, db->QueryInt("PRAGMA user_version"));
  if ((app != 0 || version != 0) && (app != kApplicationId || version < 1 || version > kFormat)) {
    return Status::Corruption(path + " is not a braid container state of format 1 to " +
                              std::to_string(kFormat) +
                              " (remove it: the next pass of each container reads every file)");
  }
  if (version < kFormat) {
    // Create, or upgrade, in one transaction; another process may have
    // done it while this one waited for the lock.
    BRAID_RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
    auto work = [&]() -> Status {
      BRAID_ASSIGN_OR_RETURN(const int64_t now, db->QueryInt("PRAGMA user_version"));
      if (now == 0) BRAID_RETURN_IF_ERROR(db->Exec(kSchema));
      if (now < 2) BRAID_RETURN_IF_ERROR(db->Exec(kFormat2));
      return db->Exec(("PRAGMA application_id=" + std::to_string(kApplicationId) +
                       "; PRAGMA user_version=" + std::to_string(kFormat))
                          .c_str());
    };
    Status s = work();
    if (s.ok()) s = db->Exec("COMMIT");
    if (!s.ok()) {
      (void)db->Exec("ROLLBACK");
      return s.WithContext("creating or upgrading " + path);
    }
  }
  return std::unique_ptr<ContainerState>(new ContainerState(path, std::move(db)));
}

Status ContainerState::Add(const ContainerSpec& spec) {
  BRAID_RETURN_IF_ERROR(ValidateSpec(spec));
  BRAID_ASSIGN_OR_RETURN(auto existing, Get(spec.name));
  if (existing) {
    return Status::AlreadyExists("a container named " + spec.name +
                                 " exists (braid container remove " + spec.name + " first)");
  }
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO containers(name, dir, collection, "
                                              "patterns, created_ms) VALUES (?, ?, ?, ?, ?)"));
  const std::string patterns = PatternsJson(spec.walk, spec.content_blobs);
  return s.Bind(1, spec.name)
      .Bind(2, spec.dir)
      .Bind(3, spec.collection)
      .Bind(4, patterns)
      .Bind(5, spec.created_ms)
      .Run();
}

Result<std::optional<ContainerSpec>> ContainerState::Get(const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT name, dir, collection, patterns, "
                                              "created_ms, last_pass FROM containers "
                                              "WHERE name = ?"));
  s.Bind(1, name);
  BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
  if (!found) return std::optional<ContainerSpec>();
  bool blobs = false;
  BRAID_ASSIGN_OR_RETURN(WalkOptions walk, ParsePatterns(s.Text(3), &blobs));
  return std::optional<ContainerSpec>(DecodeSpec(s, std::move(walk), blobs));
}

Result<std::vector<ContainerSpec>> ContainerState::List() {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT name, dir, collection, patterns, "
                                              "created_ms, last_pass FROM containers "
                                              "ORDER BY name"));
  std::vector<ContainerSpec> out;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return out;
    bool blobs = false;
    BRAID_ASSIGN_OR_RETURN(WalkOptions walk, ParsePatterns(s.Text(3), &blobs));
    out.push_back(DecodeSpec(s, std::move(walk), blobs));
  }
}

Status ContainerState::Remove(const std::string& name) {
  BRAID_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  auto work = [&]() -> Status {
    BRAID_ASSIGN_OR_RETURN(Stmt c, db_->Prepare("DELETE FROM containers WHERE name = ?"));
    BRAID_RETURN_IF_ERROR(c.Bind(1, name).Run());
    if (db_->Changes() == 0) return Status::NotFound("no container named " + name);
    BRAID_ASSIGN_OR_RETURN(Stmt f, db_->Prepare("DELETE FROM files WHERE container = ?"));
    BRAID_RETURN_IF_ERROR(f.Bind(1, name).Run());
    BRAID_ASSIGN_OR_RETURN(Stmt t, db_->Prepare("DELETE FROM totals WHERE container = ?"));
    return t.Bind(1, name).Run();
  };
  Status s = work();
  if (s.ok()) return db_->Exec("COMMIT");
  (void)db_->Exec("ROLLBACK");
  return s;
}

Status ContainerState::SetLastPass(const std::string& name, const std::string& summary) {
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("UPDATE containers SET last_pass = ? WHERE name = ?"));
  return s.Bind(1, summary).Bind(2, name).Run();
}

Result<std::unique_ptr<ContainerState::Cursor>> ContainerState::Files(const std::string& name) {
  return SnapshotCursor::Open(path_, name);
}

Result<std::unique_ptr<ContainerState::Cursor>> ContainerState::FilesBelow(
    const std::string& name, const std::string& prefix) {
  std::string to = prefix;
  to.back() = '/' + 1;  // "a/b/" -> "a/b0": every path below, nothing else
  return SnapshotCursor::Open(path_, name, prefix, to);
}

Result<std::optional<FileRow>> ContainerState::FileOf(const std::string& name,
                                                      const std::string& path) {
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("SELECT path, size, mtime_ns, ino, ctime_ns, "
                                      "side_size, side_mtime_ns, side_ino, side_ctime_ns, "
                                      "sha256 FROM files WHERE container = ? AND path = ?"));
  s.Bind(1, name).BindBlob(2, path);
  BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
  if (!found) return std::optional<FileRow>();
  return std::optional<FileRow>(DecodeRow(s));
}

Status ContainerState::Apply(const std::string& name, const std::vector<FileRow>& put,
                             const std::vector<std::string>& removed) {
  if (put.empty() && removed.empty()) return Status::OK();
  BRAID_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  int64_t files = 0, bytes = 0;  // what the batch adds to the totals
  auto old_size = [&](const std::string& path) -> Result<std::optional<int64_t>> {
    BRAID_ASSIGN_OR_RETURN(Stmt s,
                           db_->Prepare("SELECT size FROM files WHERE container = ? AND path = ?"));
    s.Bind(1, name).BindBlob(2, path);
    BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
    return found ? std::optional<int64_t>(s.Int(0)) : std::nullopt;
  };
  auto work = [&]() -> Status {
    for (const FileRow& r : put) {
      BRAID_ASSIGN_OR_RETURN(const auto old, old_size(r.path));
      files += old ? 0 : 1;
      bytes += static_cast<int64_t>(r.stat.size) - old.value_or(0);
      BRAID_ASSIGN_OR_RETURN(
          Stmt s, db_->Prepare("INSERT OR REPLACE INTO files(container, path, size, mtime_ns, ino, "
                               "ctime_ns, side_size, side_mtime_ns, side_ino, side_ctime_ns, "
                               "sha256, begin_time, end_time, west, south, east, north) VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      s.Bind(1, name).BindBlob(2, r.path);
      s.Bind(3, static_cast<int64_t>(r.stat.size)).Bind(4, r.stat.mtime_ns);
      s.Bind(5, static_cast<int64_t>(r.stat.ino)).Bind(6, r.stat.ctime_ns);
      if (r.sidecar) {
        s.Bind(7, static_cast<int64_t>(r.sidecar->size)).Bind(8, r.sidecar->mtime_ns);
        s.Bind(9, static_cast<int64_t>(r.sidecar->ino)).Bind(10, r.sidecar->ctime_ns);
      }  // else NULLs (bindings are cleared after each use)
      s.Bind(11, r.sha256);
      if (r.extent.begin_time) s.Bind(12, *r.extent.begin_time);
      if (r.extent.end_time) s.Bind(13, *r.extent.end_time);
      if (r.extent.footprint) {
        for (int i = 0; i < 4; ++i) s.BindDouble(14 + i, (*r.extent.footprint)[i]);
      }
      BRAID_RETURN_IF_ERROR(s.Run());
    }
    for (const std::string& path : removed) {
      BRAID_ASSIGN_OR_RETURN(const auto old, old_size(path));
      if (!old) continue;
      files -= 1;
      bytes -= *old;
      BRAID_ASSIGN_OR_RETURN(Stmt s,
                             db_->Prepare("DELETE FROM files WHERE container = ? AND path = ?"));
      BRAID_RETURN_IF_ERROR(s.Bind(1, name).BindBlob(2, path).Run());
    }
    BRAID_ASSIGN_OR_RETURN(Stmt t, db_->Prepare("UPDATE totals SET files = files + ?, "
                                                "bytes = bytes + ? WHERE container = ?"));
    return t.Bind(1, files).Bind(2, bytes).Bind(3, name).Run();  // no row: Total() counts
  };
  Status s = work();
  if (s.ok()) return db_->Exec("COMMIT");
  (void)db_->Exec("ROLLBACK");
  return s;
}

Result<Totals> ContainerState::Total(const std::string& name) {
  Totals t;
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("SELECT files, bytes FROM totals WHERE container = ?"));
  s.Bind(1, name);
  BRAID_ASSIGN_OR_RETURN(const bool kept, s.Step());
  if (kept) {
    t.files = static_cast<uint64_t>(s.Int(0));
    t.bytes = static_cast<uint64_t>(s.Int(1));
  } else {  // the first time (or after an upgrade): counted once, kept after
    BRAID_ASSIGN_OR_RETURN(Stmt c, db_->Prepare("SELECT count(*), coalesce(sum(size), 0) "
                                                "FROM files WHERE container = ?"));
    c.Bind(1, name);
    BRAID_ASSIGN_OR_RETURN(const bool row, c.Step());
    if (row) {
      t.files = static_cast<uint64_t>(c.Int(0));
      t.bytes = static_cast<uint64_t>(c.Int(1));
    }
    BRAID_ASSIGN_OR_RETURN(Stmt ins, db_->Prepare("INSERT OR REPLACE INTO totals(container, "
                                                  "files, bytes) VALUES (?, ?, ?)"));
    BRAID_RETURN_IF_ERROR(ins.Bind(1, name)
                              .Bind(2, static_cast<int64_t>(t.files))
                              .Bind(3, static_cast<int64_t>(t.bytes))
                              .Run());
  }
  // Each extent one seek in its partial index.
  BRAID_ASSIGN_OR_RETURN(
      Stmt e,
      db_->Prepare("SELECT (SELECT min(begin_time) FROM files WHERE container = ?1 AND "
                   "begin_time IS NOT NULL), (SELECT max(end_time) FROM files WHERE container = ?1 "
                   "AND end_time IS NOT NULL), (SELECT min(west) FROM files WHERE container = ?1 "
                   "AND west IS NOT NULL), (SELECT min(south) FROM files WHERE container = ?1 AND "
                   "south IS NOT NULL), (SELECT max(east) FROM files WHERE container = ?1 AND east "
                   "IS NOT NULL), (SELECT max(north) FROM files WHERE container = ?1 AND north IS "
                   "NOT NULL)"));
  e.Bind(1, name);
  BRAID_ASSIGN_OR_RETURN(const bool row, e.Step());
  if (!row) return t;
  t.extent.begin_time = e.OptionalText(0);
  t.extent.end_time = e.OptionalText(1);
  if (!e.IsNull(2)) {
    t.extent.footprint = std::array<double, 4>{e.Double(2), e.Double(3), e.Double(4), e.Double(5)};
  }
  return t;
}

Status ContainerState::AddCheckout(const CheckoutSpec& spec) {
  BRAID_RETURN_IF_ERROR(ValidateCollection(spec.name).WithContext("container name"));
  BRAID_RETURN_IF_ERROR(ValidateCollection(spec.collection));
  BRAID_ASSIGN_OR_RETURN(auto existing, GetCheckout(spec.name));
  if (existing) {
    return Status::AlreadyExists("container " + spec.name + " is checked out in " + existing->dir);
  }
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("INSERT INTO checkouts(name, dir, collection, cursor) "
                                      "VALUES (?, ?, ?, 0)"));
  return s.Bind(1, spec.name).Bind(2, spec.dir).Bind(3, spec.collection).Run();
}

Result<std::optional<CheckoutSpec>> ContainerState::GetCheckout(const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT dir, collection, cursor, last_run "
                                              "FROM checkouts WHERE name = ?"));
  s.Bind(1, name);
  BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
  if (!found) return std::optional<CheckoutSpec>();
  return std::optional<CheckoutSpec>(
      CheckoutSpec{name, std::string(s.Text(0)), std::string(s.Text(1)),
                   static_cast<uint64_t>(s.Int(2)), s.OptionalText(3).value_or("")});
}

Status ContainerState::SetCheckoutRun(const std::string& name, uint64_t cursor,
                                      const std::string& summary) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("UPDATE checkouts SET cursor = ?, last_run = ? WHERE name = ?"));
  return s.Bind(1, static_cast<int64_t>(cursor)).Bind(2, summary).Bind(3, name).Run();
}

Result<std::optional<CheckoutFile>> ContainerState::GetCheckoutFile(const std::string& name,
                                                                    const std::string& id) {
  BRAID_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT path, sha256, size, mtime_ns, ino, ctime_ns "
                                              "FROM checkout_files WHERE name = ? AND id = ?"));
  s.Bind(1, name).Bind(2, id);
  BRAID_ASSIGN_OR_RETURN(const bool found, s.Step());
  if (!found) return std::optional<CheckoutFile>();
  CheckoutFile f;
  f.id = id;
  f.path = std::string(s.Blob(0));
  f.sha256 = std::string(s.Text(1));
  f.stat = {static_cast<uint64_t>(s.Int(2)), s.Int(3), static_cast<uint64_t>(s.Int(4)), s.Int(5)};
  return std::optional<CheckoutFile>(std::move(f));
}

Status ContainerState::PutCheckoutFile(const std::string& name, const CheckoutFile& f) {
  BRAID_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT OR REPLACE INTO checkout_files(name, id, path, sha256, size, "
                           "mtime_ns, ino, ctime_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  return s.Bind(1, name)
      .Bind(2, f.id)
      .BindBlob(3, f.path)
      .Bind(4, f.sha256)
      .Bind(5, static_cast<int64_t>(f.stat.size))
      .Bind(6, f.stat.mtime_ns)
      .Bind(7, static_cast<int64_t>(f.stat.ino))
      .Bind(8, f.stat.ctime_ns)
      .Run();
}

Status ContainerState::RemoveCheckoutFile(const std::string& name, const std::string& id) {
  BRAID_ASSIGN_OR_RETURN(Stmt s,
                         db_->Prepare("DELETE FROM checkout_files WHERE name = ? AND id = ?"));
  return s.Bind(1, name).Bind(2, id).Run();
}

}  // namespace braid::container
